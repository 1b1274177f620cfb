# codec.py (board) — the C codecs as a MicroPython native module (`_nc.mpy`, native_codec built
# for the board's architecture with MicroPython's natmod tooling), wrapped in the same API as the
# vdk backend: PCM is bytes of little-endian int16.
try:
    import _nc
except ImportError:
    _nc = None  # type: ignore[assignment]


def _lib():
    if _nc is None:
        raise OSError(19, "native codec module _nc.mpy is not installed on this board")
    return _nc


def g711_encode(pcm, law="ulaw"):
    return _lib().g711_encode(0 if law == "ulaw" else 1, pcm)


def g711_decode(data, law="ulaw"):
    return _lib().g711_decode(0 if law == "ulaw" else 1, data)


class G722Encoder:
    def __init__(self, bitrate=64000):
        self._st = _lib().g722_enc_new(bitrate)

    def encode(self, pcm):
        return _lib().g722_encode(self._st, pcm)


class G722Decoder:
    def __init__(self, bitrate=64000):
        self._st = _lib().g722_dec_new(bitrate)

    def decode(self, data):
        return _lib().g722_decode(self._st, data)


class AdpcmEncoder:
    def __init__(self, layout="dvi4"):
        self._st = _lib().adpcm_new()

    def encode(self, pcm):
        return _lib().dvi4_encode(self._st, pcm)


class AdpcmDecoder:
    def __init__(self, layout="dvi4"):
        self._st = _lib().adpcm_new()

    def decode(self, data):
        return _lib().dvi4_decode(self._st, data)


class Plc:
    def __init__(self, rate=8000):
        self._st = _lib().plc_new(rate)

    def good(self, frame):
        return _lib().plc_good(self._st, frame)

    def lost(self):
        return _lib().plc_lost(self._st)
