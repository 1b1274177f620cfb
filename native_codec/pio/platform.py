"""PlatformIO development platform `edgecall-qemu`: Cortex-M boards emulated by qemu-system-arm.

Nothing is downloaded: the toolchain is Debian's arm-none-eabi-gcc from PATH (see builder/main.py)
and the platform declares no packages. The one core package PlatformIO itself needs to build,
`tool-scons`, is installed from ./tool-scons when the current core directory lacks it, so that a
plain `pio run` works offline as well as the project's Python build code does.
"""
import json
import os
import shutil

from platformio.public import PlatformBase

TOOL_SCONS_VERSION = "4.41101.0"


def _install_offline_tool_scons():
    """Copy ./tool-scons into the core packages dir, owned by `platformio`, unless one is there."""
    from platformio.project.config import ProjectConfig

    packages_dir = ProjectConfig.get_instance().get("platformio", "packages_dir")
    dest = os.path.join(packages_dir, "tool-scons")
    if os.path.isfile(os.path.join(dest, ".piopm")):
        return  # ours or the registry's: either satisfies PlatformIO
    src = os.path.join(os.path.dirname(os.path.realpath(__file__)), "tool-scons")
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    meta = {
        "type": "tool",
        "name": "tool-scons",
        "version": TOOL_SCONS_VERSION,
        "spec": {"owner": "platformio", "id": None, "name": "tool-scons",
                 "requirements": None, "uri": None},
    }
    with open(os.path.join(dest, ".piopm"), "w", encoding="utf-8") as fp:
        json.dump(meta, fp)


class EdgecallqemuPlatform(PlatformBase):
    """QEMU machines `microbit` (Cortex-M0), `mps2-an385` (M3) and `mps2-an386` (M4)."""

    def configure_default_packages(self, options, targets):
        _install_offline_tool_scons()
        return super().configure_default_packages(options, targets)

    def is_embedded(self):
        return True
