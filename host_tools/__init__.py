"""edgecall host tools: build, sim, flash, provision, hil, bench — the Python package behind `./edgecall`.

Layout: `cli` is the command table; `native` builds native_codec for host, Cortex-M and wasm32;
`bench` holds the benchmarks; `paths` names the project's folders.
"""
__version__ = "0.1.0"
