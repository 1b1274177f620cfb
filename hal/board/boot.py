# boot.py (board) — the running image and its confirmation on a real board.
#
# Boards flashed with `edgecall deploy` (stock MicroPython, no MCUboot) have no image to confirm:
# image_hash() is "" and confirm() returns False. A board whose bootloader installs
# .boot/installed.json (as the virtual devkit's does) gets the same image_ok flag file.
import json
import os

DIR = ".boot"
FLAG = DIR + "/image_ok"


def _installed() -> dict:
    try:
        with open(DIR + "/installed.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def image_hash() -> str:
    return str(_installed().get("hash", ""))


def version() -> str:
    return str(_installed().get("version", ""))


def confirmed() -> bool:
    h = image_hash()
    if not h:
        return True
    try:
        with open(FLAG) as f:
            return f.read().strip() == h
    except OSError:
        return False


def confirm() -> bool:
    h = image_hash()
    if not h:
        return False
    if confirmed():
        return True
    try:
        os.mkdir(DIR)
    except OSError:
        pass
    tmp = FLAG + ".tmp"
    with open(tmp, "w") as f:
        f.write(h)
    os.rename(tmp, FLAG)
    return True
