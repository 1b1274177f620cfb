"""Talking to one device: `resolve` turns --port/--device into a port, `console` is the device
console client (SMP), `selftest` computes on the host what a device's selftest must report,
`cli` is `edgecall device …`."""
