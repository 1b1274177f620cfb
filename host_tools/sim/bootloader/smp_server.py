"""Serial recovery: the bootloader's SMP server on the device side of the pty.

mcumgr console framing (host_tools/smp/serial.py's codec); SMP v1/v2 headers, answered with the
request's version. Groups (numbers as Zephyr's mcumgr):
  image (1): 0 state read / write, 1 upload, 5 erase
  OS (0):    0 echo, 5 reset, 6 mcumgr parameters, 8 bootloader info ({"query": "mode"}: the
             MCUboot mode); 7 OS info with format "i" (hardware platform:
             the board's machine) — a port-specific command of ours, which `edgecall flash` asks
             to refuse an image for another board before uploading it
Errors: {"rc": MGMT_ERR, "rsn": text}.

The image group is MCUboot's serial recovery with direct image upload and image state
(recovery.py: state from the slots' trailers; "image" 0/1 uploads write the primary slot
directly, "image" 2 the secondary). In the upload into the secondary slot a first chunk with the
sha of the upload in progress answers that upload's offset, so a host resumes after a disconnect
or a reset (as mcumgr's img_mgmt does; MCUboot's own serial recovery starts over), and the
complete image is verified — hash, key, signature, firmware for this board (armimage) — before it
lands in the secondary slot.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import cbor2

from host_tools.firmware import armimage, mcuboot
from host_tools.sim.bootloader.boot import Bootloader
from host_tools.sim.bootloader.recovery import DIRECT_PRIMARY, SECONDARY, ArmImageGroup, Refused
from host_tools.smp.serial import OP_READ, OP_WRITE, FrameDecoder, Header, encode_frames

GROUP_OS, GROUP_IMAGE = 0, 1
EUNKNOWN, ENOMEM, EINVAL, ENOENT, EBADSTATE, ENOTSUP, ECORRUPT = 1, 2, 3, 5, 6, 8, 9
BUF_SIZE = 16384  # reassembly buffer (mcumgr params): large packets over many frames
MODE_SWAP_USING_SCRATCH = 1  # MCUboot's bootloader mode numbers (bootloader info, query "mode")
OS_INFO = {"s": "MCUboot", "m": "arm", "p": "cortex-m4", "i": armimage.MACHINE.decode()}
UPLOAD = "upload.json"
PART = "upload.part"


class MgmtFail(Exception):
    def __init__(self, rc: int, reason: str) -> None:
        super().__init__(reason)
        self.rc, self.reason = rc, reason


Handler = Callable[[dict[str, Any], bool], dict[str, Any]]


class SmpServer:
    def __init__(self, boot: Bootloader) -> None:
        self.boot = boot
        self.store = boot.store
        self.decoder = FrameDecoder()
        self.reset_requested = False
        self.handlers: dict[tuple[int, int], Handler] = {
            (GROUP_OS, 0): self.echo, (GROUP_OS, 5): self.reset, (GROUP_OS, 6): self.params,
            (GROUP_OS, 7): self.os_info, (GROUP_OS, 8): self.bootloader_info,
            (GROUP_IMAGE, 0): self.state, (GROUP_IMAGE, 1): self.upload, (GROUP_IMAGE, 5): self.erase,
        }
        self.arm = ArmImageGroup(boot.mcuboot)
        self.target = SECONDARY  # the slot of the upload in progress ("image" of its first chunk)

    # ---- bytes in, bytes out
    def feed(self, data: bytes) -> bytes:
        out = b""
        for body in self.decoder.feed(data):
            rsp = self.handle(body)
            if rsp is not None:
                out += b"".join(encode_frames(rsp))
        self.decoder.text.clear()
        return out

    def handle(self, body: bytes) -> bytes | None:
        try:
            h = Header.unpack(body)
            req = cbor2.loads(body[8 : 8 + h.length]) if h.length else {}
        except Exception:  # noqa: BLE001 - a corrupt request gets no answer, as on a board
            return None
        if h.op not in (OP_READ, OP_WRITE):
            return None
        handler = self.handlers.get((h.group, h.id))
        try:
            if not isinstance(req, dict):
                raise MgmtFail(EINVAL, "request is not a map")
            rsp = handler(req, h.op == OP_WRITE) if handler else {"rc": ENOTSUP}
        except (MgmtFail, Refused) as e:
            self.boot.log(f"smp {h.group}/{h.id}: {e.reason}")
            rsp = {"rc": e.rc, "rsn": e.reason}
        payload = cbor2.dumps(rsp)
        rh = Header(h.op + 1, h.flags, len(payload), h.group, h.seq, h.id, h.version)
        return rh.pack() + payload

    # ---- OS
    def echo(self, req: dict[str, Any], write: bool) -> dict[str, Any]:
        return {"r": str(req.get("d", ""))}

    def reset(self, req: dict[str, Any], write: bool) -> dict[str, Any]:
        self.reset_requested = req.get("boot_mode", 0) != 1
        return {}

    def params(self, req: dict[str, Any], write: bool) -> dict[str, Any]:
        return {"buf_size": BUF_SIZE, "buf_count": 1}

    def bootloader_info(self, req: dict[str, Any], write: bool) -> dict[str, Any]:
        if req.get("query") == "mode":
            return {"mode": MODE_SWAP_USING_SCRATCH, "no-downgrade": not self.store.config().get("allow_downgrade", False)}
        return {"bootloader": "MCUboot"}

    def os_info(self, req: dict[str, Any], write: bool) -> dict[str, Any]:
        fmt = req.get("format", "s")
        if not isinstance(fmt, str) or any(ch not in OS_INFO for ch in fmt):
            raise MgmtFail(EINVAL, f"format characters: {''.join(OS_INFO)}")
        return {"output": " ".join(OS_INFO[ch] for ch in OS_INFO if ch in fmt)}

    # ---- image state
    def state(self, req: dict[str, Any], write: bool) -> dict[str, Any]:
        return self.arm.state(req, write)

    # ---- upload
    def _upload_state(self) -> dict[str, Any]:
        st = self.store.json(UPLOAD)
        part = self.store.path(PART)
        if st and part.exists():
            off = int(st.get("off", 0))
            if part.stat().st_size != off:  # data appended but the offset not yet recorded
                with open(part, "r+b") as f:
                    f.truncate(off)
            return st
        return {}

    def upload(self, req: dict[str, Any], write: bool) -> dict[str, Any]:
        off, data = req.get("off"), req.get("data", b"")
        if not isinstance(off, int) or not isinstance(data, (bytes, bytearray)) or off < 0:
            raise MgmtFail(EINVAL, "upload needs off and data")
        if off == 0:
            target = req.get("image", 0)
            target = 0 if target is None else target
            if target in DIRECT_PRIMARY:
                self.target = 0
            elif target == SECONDARY:
                self.target = SECONDARY
            else:
                raise MgmtFail(ENOENT, f"no image slot {target!r} to upload to (0: primary, 2: secondary)")
        if self.target == 0:
            return self.arm.upload_primary(off, bytes(data), req.get("len"))
        st = self._upload_state()
        part = self.store.path(PART)
        if off == 0:
            total, sha = req.get("len"), req.get("sha")
            if not isinstance(total, int) or total <= 0:
                raise MgmtFail(EINVAL, "the first chunk needs len")
            limit = self.arm.slots.area
            if total > limit:
                raise MgmtFail(ENOMEM, f"image too large for the slot ({total} > {limit} bytes)")
            sha_hex = bytes(sha).hex() if isinstance(sha, (bytes, bytearray)) else None
            if st and sha_hex and st.get("sha") == sha_hex and st.get("len") == total and 0 < st["off"] < total:
                return {"off": st["off"]}  # same image again: resume where it stopped
            st = {"sha": sha_hex, "len": total, "off": 0}
            with open(part, "wb"):
                pass
            self.store.write_json(UPLOAD, st)
        elif not st:
            raise MgmtFail(EBADSTATE, "no upload in progress: start at offset 0")
        elif off != st["off"]:
            return {"off": st["off"]}
        if st["off"] + len(data) > st["len"]:
            raise MgmtFail(EINVAL, "data past the announced length")
        if data:
            with open(part, "ab") as f:
                f.write(data)
            st["off"] += len(data)
            self.store.write_json(UPLOAD, st)
        if st["off"] < st["len"]:
            return {"off": st["off"]}
        return self._finish(st)

    def _finish(self, st: dict[str, Any]) -> dict[str, Any]:
        part = self.store.path(PART)
        image = part.read_bytes()
        self._drop_upload()
        if st.get("sha") and hashlib.sha256(image).hexdigest() != st["sha"]:
            raise MgmtFail(ECORRUPT, "upload does not match its sha")
        try:
            img = mcuboot.verify(image, self.store.public_der)
            armimage.check(img)  # firmware for this board, not another machine's
        except armimage.WrongFirmware as e:
            raise MgmtFail(EINVAL, f"image rejected (board): {e}") from None
        except mcuboot.InvalidImage as e:
            raise MgmtFail(ECORRUPT if e.kind in ("hash", "truncated", "header") else EINVAL,
                           f"image rejected ({e.kind}): {e}") from None
        if img.total_size != len(image):
            raise MgmtFail(ECORRUPT, "image rejected (truncated): trailing bytes after the TLVs")
        self.arm.slots.program(1, image)  # its trailer erased: not pending
        return {"off": st["len"], "match": True}

    def _drop_upload(self) -> None:
        self.store.path(UPLOAD).unlink(missing_ok=True)
        self.store.path(PART).unlink(missing_ok=True)

    def erase(self, req: dict[str, Any], write: bool) -> dict[str, Any]:
        self.arm.erase()
        self._drop_upload()
        return {}
