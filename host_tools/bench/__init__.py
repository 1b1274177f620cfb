"""Benchmarks behind `edgecall bench …`: JSON results, medians, ratios against peers measured in the same run."""
