"""The board farm: devices on several hosts, reached as RFC 2217 network serial ports and shared
through labgrid (coordinator, exporters, places, reservations).

- `labgrid.py`: labgrid's own tools (a venv of their own) and its client: a run's steps go
  through one labgrid client session (`lgbridge.py`, run by labgrid's venv), `labgrid-client`
  is what a person types.
- `export.py`: `edgecall sim export` — a host's devices served over RFC 2217 (ser2net) and
  registered with a labgrid exporter.
- `scheduler.py`: places reserved and acquired for a run, released on exit, marked unhealthy
  after repeated transport failures.
- `cli.py`: `edgecall farm places|health`.
- `netns.py`: "hosts" on one machine (network namespaces and veth pairs) for tests and benchmarks;
  `testlab.py`: a whole farm on them (coordinator, exporters, devkits).
"""
