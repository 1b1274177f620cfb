# _main.py — frozen into an EdgeCall image: the board's main() runs it where a board would run
# main.py, unless a main.py on the flash takes its place. Starts the application.
import edgecall.app

edgecall.app.start()
