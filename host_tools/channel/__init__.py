"""The channel server: signalling over TCP (`protocol`, `server`), a media relay over UDP with
per-link impairment (`relay`, `impair`, `profiles`), and a Python client (`client`) used by the
HIL runner and the tests. Devices speak the same protocol from firmware/edgecall/signaling.py."""
