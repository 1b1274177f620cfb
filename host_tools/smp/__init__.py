"""SMP (mcumgr Simple Management Protocol), host side: `serial` frames packets for a serial
console, `client` sends requests over any byte transport and matches responses by sequence
number. The protocol code knows nothing of ports: it takes a transport object."""
