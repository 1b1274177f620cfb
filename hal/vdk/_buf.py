"""Helpers shared by the hal.vdk modules: byte sizes of bytes-like objects."""
from _vdkhal import nbytes as _nbytes

ERR_BUFFER = -100


def nbytes(obj) -> int:
    """Length in bytes of a bytes-like object (bytes, bytearray, memoryview, array.array)."""
    t = type(obj)
    if t is bytes or t is bytearray:
        return len(obj)
    n = _nbytes(id(obj))
    if n < 0:
        raise TypeError("a bytes-like object is required")
    return n
