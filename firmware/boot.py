# boot.py — runs first after every reset. Nothing to set up yet: the application starts in main.py.
