# smp.py — SMP (mcumgr Simple Management Protocol) over a serial console, device side.
#
# Framing (mcumgr "SMP over console"): a packet is big-endian u16 length (body + 2), the body,
# and a CRC-16/XMODEM of the body, base64-encoded and cut into frames of at most 127 bytes:
# the first frame starts with 0x06 0x09, the others with 0x04 0x14, each ends with "\n". Each
# frame carries whole base64 quads, so it decodes on its own. No frame ever contains 0x03, so
# Ctrl-C on the same port still interrupts the application.
# Body: the 8-byte SMP header (op, flags, length, group, sequence, command id; version 2 bit)
# then a CBOR map. Works on MicroPython and CPython.
#
# Base64 is done here, in preallocated buffers: the npm MicroPython build's binascii allocates
# memory growing with the square of the input (31 KB for 93 bytes), which the virtual devkit's
# VM cannot reclaim until the call returns.

from edgecall import cbor

OP_READ, OP_READ_RSP, OP_WRITE, OP_WRITE_RSP = 0, 1, 2, 3
START, CONT = b"\x06\x09", b"\x04\x14"
MAX_FRAME = 127
RAW_PER_FRAME = (MAX_FRAME - 3) // 4 * 3  # 93 raw bytes -> 124 base64 characters
MAX_PACKET = 4096

# mcumgr return codes (MGMT_ERR_*)
EOK, EUNKNOWN, ENOMEM, EINVAL, ETIMEOUT, ENOENT, EBADSTATE, EMSGSIZE, ENOTSUP, ECORRUPT, EBUSY, EACCESSDENIED = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)

_CRC_TABLE = None
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_DEC = None


def b64encode(data):
    n = len(data)
    out = bytearray((n + 2) // 3 * 4)
    a = _B64
    j = 0
    for i in range(0, n - n % 3, 3):
        v = data[i] << 16 | data[i + 1] << 8 | data[i + 2]
        out[j] = a[v >> 18]
        out[j + 1] = a[(v >> 12) & 63]
        out[j + 2] = a[(v >> 6) & 63]
        out[j + 3] = a[v & 63]
        j += 4
    rest = n % 3
    if rest:
        v = data[n - rest] << 16 | (data[n - 1] << 8 if rest == 2 else 0)
        out[j] = a[v >> 18]
        out[j + 1] = a[(v >> 12) & 63]
        out[j + 2] = a[(v >> 6) & 63] if rest == 2 else 61
        out[j + 3] = 61
    return bytes(out)


def b64decode(text):
    """Strict base64 (length a multiple of 4, "=" padding only at the end); ValueError if not."""
    global _B64_DEC
    if _B64_DEC is None:
        t = bytearray(b"\xff" * 256)
        for i, c in enumerate(_B64):
            t[c] = i
        _B64_DEC = t
    d = _B64_DEC
    n = len(text)
    if n % 4:
        raise ValueError("base64 length")
    pad = 0
    if n and text[n - 1] == 61:
        pad = 2 if text[n - 2] == 61 else 1
    out = bytearray(n // 4 * 3)
    j = 0
    for i in range(0, n, 4):
        v = 0
        for k in range(4):
            c = text[i + k]
            if c == 61 and i + k >= n - pad:
                x = 0
            else:
                x = d[c]
                if x == 255:
                    raise ValueError("base64 character")
            v = v << 6 | x
        out[j] = v >> 16
        out[j + 1] = (v >> 8) & 255
        out[j + 2] = v & 255
        j += 3
    return bytes(out[: j - pad])


def crc16(data, crc=0):
    global _CRC_TABLE
    if _CRC_TABLE is None:
        t = []
        for i in range(256):
            c = i << 8
            for _ in range(8):
                c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
            t.append(c & 0xFFFF)
        _CRC_TABLE = t
    t = _CRC_TABLE
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ b) & 0xFF]
    return crc


def header(op, group, cmd, seq, length, version=1, flags=0):
    return bytes((((version & 3) << 3) | (op & 7), flags, length >> 8, length & 0xFF,
                  group >> 8, group & 0xFF, seq & 0xFF, cmd & 0xFF))


def parse_header(b):
    if len(b) < 8:
        raise ValueError("smp: short header")
    return {"op": b[0] & 7, "version": (b[0] >> 3) & 3, "flags": b[1], "length": b[2] << 8 | b[3],
            "group": b[4] << 8 | b[5], "seq": b[6], "id": b[7]}


def frames(body):
    """The serial frames of one SMP packet body (a list of bytes, each ending in newline)."""
    crc = crc16(body)
    n = len(body) + 2
    raw = bytes((n >> 8, n & 0xFF)) + body + bytes((crc >> 8, crc & 0xFF))
    out = []
    for i in range(0, len(raw), RAW_PER_FRAME):
        text = b64encode(raw[i : i + RAW_PER_FRAME])
        out.append((START if i == 0 else CONT) + text + b"\n")
    return out


class Decoder:
    """Feeds console bytes in; yields complete packet bodies whose length and CRC check out.
    Bytes outside frames (REPL or log text, junk) are skipped; a bad frame drops its packet and is
    counted in `errors` (with the reason in `last_error`).

    A first frame's 0x06 0x09 starts a frame wherever it appears, not only after a newline:
    base64 text never holds those bytes, so whatever came before them (junk without a line end, a
    frame cut short) cannot hide the next request. State is bounded whatever arrives: one line of
    at most MAX_FRAME bytes and one packet of at most MAX_PACKET."""

    def __init__(self):
        self.line = bytearray()
        self.raw = None  # bytearray while a packet is being assembled
        self.errors = 0
        self.last_error = ""
        self._prev = -1  # the byte before (a 0x06 may begin a start marker)
        self._skip = False  # inside an over-long line: its bytes are dropped up to the newline

    def _fail(self, why):
        self.errors += 1
        self.last_error = why
        self.raw = None

    def feed(self, data):
        bodies = []
        line = self.line
        prev = self._prev
        skip = self._skip
        for b in data:
            if b == 0x0A:
                if not skip:
                    body = self._frame(bytes(line))
                    if body is not None:
                        bodies.append(body)
                line = bytearray()
                skip = False
            elif b == 0x09 and prev == 0x06 and (skip or len(line) != 1):
                if not skip and bytes(line[:2]) in (START, CONT):
                    self._fail("frame cut short by a new start")
                line = bytearray(START)  # a new packet starts here
                skip = False
            elif skip:
                pass
            elif len(line) < MAX_FRAME:
                line.append(b)
            else:
                if bytes(line[:2]) in (START, CONT):
                    self._fail("frame longer than 127 bytes")
                line = bytearray()
                skip = True
            prev = b
        self.line = line
        self._prev = prev
        self._skip = skip
        return bodies

    def _frame(self, line):
        if line[:2] == START:
            self.raw = bytearray()
        elif line[:2] == CONT:
            if self.raw is None:
                self._fail("continuation without a start frame")
                return None
        else:
            return None  # not ours: REPL or log text
        try:
            chunk = b64decode(line[2:])
        except ValueError:
            self._fail("bad base64")
            return None
        self.raw.extend(chunk)
        if len(self.raw) < 2:
            return None
        n = self.raw[0] << 8 | self.raw[1]
        if n < 2 or n > MAX_PACKET:
            self._fail("bad packet length")
            return None
        if len(self.raw) - 2 < n:
            return None
        if len(self.raw) - 2 > n:
            self._fail("packet longer than its length")
            return None
        body = bytes(self.raw[2 : n])
        crc = self.raw[n] << 8 | self.raw[n + 1]
        self.raw = None
        if crc16(body) != crc:
            self._fail("bad crc")
            return None
        return body


def response(req_hdr, payload):
    """A response body for a request header (dict from parse_header) and a CBOR-able map."""
    data = cbor.encode(payload)
    op = OP_READ_RSP if req_hdr["op"] == OP_READ else OP_WRITE_RSP
    return header(op, req_hdr["group"], req_hdr["id"], req_hdr["seq"], len(data), req_hdr["version"]) + data


def error(req_hdr, rc, group=None, rsn=None):
    """An error response: SMP v2 `err` map (v1 requests get the legacy `rc`), with mcumgr's
    verbose-error `rsn` text when there is one."""
    if req_hdr["version"] >= 1:
        body = {"err": {"group": req_hdr["group"] if group is None else group, "rc": rc}}  # type: dict[str, object]
    else:
        body = {"rc": rc}
    if rsn:
        body["rsn"] = str(rsn)[:120]
    return response(req_hdr, body)
