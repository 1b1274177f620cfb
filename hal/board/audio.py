# audio.py (board) — microphone and speaker on I2S (e.g. an INMP441 mic and a MAX98357A amp),
# 16-bit mono, one 20 ms frame per call.
from machine import I2S, Pin

from hal.boards import board


class Audio:
    def __init__(self, rate=16000, frame_ms=20, mic=None, speaker=None):
        cfg = board()
        self.rate = rate
        self.frame_bytes = rate * frame_ms // 1000 * 2
        mid, sck, ws, sd = cfg["mic"]
        self._mic = I2S(mid, sck=Pin(sck), ws=Pin(ws), sd=Pin(sd), mode=I2S.RX, bits=16, format=I2S.MONO,
                        rate=rate, ibuf=self.frame_bytes * 4)
        sid, sck, ws, sd = cfg["speaker"]
        self._spk = I2S(sid, sck=Pin(sck), ws=Pin(ws), sd=Pin(sd), mode=I2S.TX, bits=16, format=I2S.MONO,
                        rate=rate, ibuf=self.frame_bytes * 4)
        self._buf = bytearray(self.frame_bytes)

    def read_frame(self):
        n = self._mic.readinto(self._buf)
        return bytes(self._buf) if n == self.frame_bytes else None

    def readinto(self, buf):
        """One microphone frame into buf (frame_bytes long); False if none is due."""
        return self._mic.readinto(buf) == self.frame_bytes

    def write_frame(self, pcm):
        self._spk.write(pcm)

    def close(self):
        self._mic.deinit()
        self._spk.deinit()
