# cbor.py — the CBOR subset (RFC 8949) the device console needs: unsigned and negative integers,
# byte and text strings, arrays, maps, false/true/null. Definite lengths only. Runs on MicroPython
# and CPython. decode() raises ValueError on malformed or unsupported input and never reads past
# the buffer it is given.


def _head(major, n):
    if n < 24:
        return bytes((major << 5 | n,))
    if n < 0x100:
        return bytes((major << 5 | 24, n))
    if n < 0x10000:
        return bytes((major << 5 | 25, n >> 8, n & 0xFF))
    if n < 0x100000000:
        return bytes((major << 5 | 26, n >> 24, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF))
    return bytes((major << 5 | 27,)) + n.to_bytes(8, "big")


def encode(v):
    out = []  # type: list[bytes]
    _enc(v, out)
    return b"".join(out)


def _enc(v, out):
    if v is None:
        out.append(b"\xf6")
    elif v is True:
        out.append(b"\xf5")
    elif v is False:
        out.append(b"\xf4")
    elif isinstance(v, int):
        if v >= 0:
            out.append(_head(0, v))
        else:
            out.append(_head(1, -1 - v))
    elif isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        out.append(_head(2, len(b)))
        out.append(b)
    elif isinstance(v, str):
        b = v.encode()
        out.append(_head(3, len(b)))
        out.append(b)
    elif isinstance(v, (list, tuple)):
        out.append(_head(4, len(v)))
        for x in v:
            _enc(x, out)
    elif isinstance(v, dict):
        out.append(_head(5, len(v)))
        for k in v:
            _enc(k, out)
            _enc(v[k], out)
    else:
        raise ValueError("cbor: cannot encode " + type(v).__name__)


MAX_DEPTH = 8


def decode(buf):
    """The one item in buf (bytes); ValueError if malformed or if bytes remain."""
    v, pos = _dec(memoryview(buf), 0, 0)
    if pos != len(buf):
        raise ValueError("cbor: trailing bytes")
    return v


def _need(mv, pos, n):
    if n < 0 or pos + n > len(mv):
        raise ValueError("cbor: truncated")


def _arg(mv, pos, info):
    if info < 24:
        return info, pos
    if info > 27:
        raise ValueError("cbor: unsupported length encoding")
    n = 1 << (info - 24)
    _need(mv, pos, n)
    v = 0
    for i in range(n):
        v = v << 8 | mv[pos + i]
    return v, pos + n


def _dec(mv, pos, depth):
    if depth > MAX_DEPTH:
        raise ValueError("cbor: nested too deep")
    _need(mv, pos, 1)
    ib = mv[pos]
    major, info = ib >> 5, ib & 31
    pos += 1
    if major == 7:
        if info == 20:
            return False, pos
        if info == 21:
            return True, pos
        if info == 22:
            return None, pos
        raise ValueError("cbor: unsupported simple value or float")
    n, pos = _arg(mv, pos, info)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major in (2, 3):
        _need(mv, pos, n)
        b = bytes(mv[pos : pos + n])
        if major == 3:
            try:
                return b.decode(), pos + n
            except UnicodeError:
                raise ValueError("cbor: bad utf-8")
        return b, pos + n
    if major == 4:
        if n > len(mv) - pos:
            raise ValueError("cbor: truncated")
        items = []
        for _ in range(n):
            x, pos = _dec(mv, pos, depth + 1)
            items.append(x)
        return items, pos
    if major == 5:
        if 2 * n > len(mv) - pos:
            raise ValueError("cbor: truncated")
        d = {}
        for _ in range(n):
            k, pos = _dec(mv, pos, depth + 1)
            if isinstance(k, (list, dict)):
                raise ValueError("cbor: unhashable map key")
            x, pos = _dec(mv, pos, depth + 1)
            d[k] = x
        return d, pos
    raise ValueError("cbor: tags are not supported")
