"""Provisioning stations: `station` runs one device through ledger and device in an order that
keeps them in agreement across crashes; `cli` is `edgecall provision …` (one device, a batch,
status, renewal)."""
