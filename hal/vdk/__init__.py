"""The virtual devkit's backend of `hal`: one module per part, on top of the `_vdkhal` JS module
that the devkit's worker registers (host_tools/sim/vdk/hal_*.mjs).

Bytes cross to JS as id(obj) (the object's address in the wasm build): JS reads bytes-like
arguments and fills fresh result objects in place, so no copy goes through the JS proxies.
"""
