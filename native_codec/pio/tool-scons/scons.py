"""PlatformIO's core package `tool-scons`, offline: runs SCons from the `scons` PyPI package.

PlatformIO starts this file with its own Python interpreter (`python scons.py ...`), so the SCons
that is importable here is the one installed beside PlatformIO (the project's venv).
"""
import sys

try:
    import SCons.Script
except ImportError:
    sys.stderr.write(
        f"Error: the Python package 'scons' is not installed in {sys.prefix}.\n"
        "Run ./edgecall (it creates the venv with platformio and scons) or "
        f"'{sys.executable} -m pip install scons'.\n"
    )
    sys.exit(1)

if __name__ == "__main__":
    SCons.Script.main()
