"""Benchmarks behind `edgecall bench …`: JSON results, medians, ratios against peers measured in the same run."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


def emit(result: dict[str, Any], json_out: bool, human: Callable[[dict[str, Any]], None]) -> None:
    """The result as JSON (--json), or as human(result) prints it (rich tables)."""
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        human(result)


def table(title: str, columns: Iterable[str]) -> Any:
    """A rich Table with these columns."""
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    return t
