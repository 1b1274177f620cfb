# main.py — runs after boot.py: starts the EdgeCall application (firmware/edgecall/app.py).
import edgecall.app

edgecall.app.start()
