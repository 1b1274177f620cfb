"""The channel server: signalling over TCP (`protocol`, `schema`, `server`), a media relay over UDP
whose members bind their media address with authenticated bindings (`relay`, `binding`) and
per-link impairment (`impair`, `profiles`), and a Python client (`client`) used by the HIL runner,
the tests and the benchmarks. Devices speak the same protocol from firmware/edgecall/signaling.py."""
