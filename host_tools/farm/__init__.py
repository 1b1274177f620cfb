"""The board farm: devices on several hosts, reached as RFC 2217 network serial ports and shared
through labgrid (coordinator, exporters, places, reservations).

- `labgrid.py`: labgrid's own tools (a venv of their own) and its client, driven as a user would.
- `export.py`: `edgecall sim export` — a host's devices served over RFC 2217 (ser2net) and
  registered with a labgrid exporter.
- `scheduler.py`: places reserved and acquired for a run, released on exit, marked unhealthy
  after repeated transport failures.
- `netns.py`: "hosts" on one machine (network namespaces and veth pairs) for tests and benchmarks.
"""
