# _boot.py — frozen into the devkit firmware and run by the board's main() before boot.py, as
# ports/rp2 does: mounts the flash as littlefs at /, formatting it on the first boot of a board
# (an erased flash).
import vfs

import devkit

bdev = devkit.Flash()
try:
    fs = vfs.VfsLfs2(bdev, progsize=256)
except OSError:
    vfs.VfsLfs2.mkfs(bdev, progsize=256)
    fs = vfs.VfsLfs2(bdev, progsize=256)
vfs.mount(fs, "/")
del vfs, devkit, bdev, fs

# The board's Ethernet (LAN9118, hal/devkit/network_lan.c): up at every boot, its address from
# DHCP (QEMU's user-mode network gives 10.0.2.15; the host is 10.0.2.2).
import network

network.LAN().active(True)
del network
