# edgecall — the EdgeCall MicroPython application (see app.py).
