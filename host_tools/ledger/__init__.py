"""The provisioning ledger: every token issued to a device, its state, and a hash-chained audit
log. SQLite (a file, the default) or PostgreSQL (`postgresql://…`, several stations sharing it).

`db` opens either database behind one small interface; `schema` holds the migrations; `ledger`
is the state machine (reserved → written → verified → committed) and the audit chain; `cli` is
`edgecall ledger verify | export`.
"""
