"""The netstack's own speech quality for a HIL impairment profile, computed offline: what the
media stack alone (native_codec.media, host build) makes of the same link, so a HIL report can set
the system's PESQ (devices, event loops, real sockets, the relay) beside the stack's.

The call is the firmware's (firmware/edgecall/call.py): MediaSender(nack=True, adapt=True,
max_ptime_ms=40), MediaReceiver(nack=True, buffer_ms=400) with its adaptive jitter buffer and
concealment, 20 ms frames. It runs in `edgecall bench resilience`'s simulated time
(resilience.simulate_call, 1 ms steps, packets at the first millisecond after their departure,
pulls every 20 ms): both directions through host_tools.channel.impair.Link with the profile's
Impairment (the relay's Gilbert–Elliott loss, delay, jitter, reordering, duplication, rate cap),
media forward, RTCP reports and NACKs back, retransmissions forward. The output is scored with
host_tools.hil.score.score_call against the speech sent, as a HIL recording is.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import numpy as np

from host_tools.bench import resilience as res
from host_tools.channel import profiles
from host_tools.channel.impair import Impairment
from host_tools.hil.score import score_call

# The firmware's sender and receiver settings (firmware/edgecall/call.py, Media).
FIRMWARE_ENDPOINTS: res.EndpointConfig = (
    {"red": False, "fec_group": 0, "nack": True, "adapt": True, "max_ptime_ms": 40},
    {"nack": True, "buffer_ms": 400},
)


def _speech(speech: Union[str, Path, np.ndarray], rate: int) -> np.ndarray:
    """The speech at the codec's rate (resampled if the file's differs), whole 20 ms frames."""
    if isinstance(speech, np.ndarray):
        pcm = speech.astype(np.int16)
    else:
        from scipy.signal import resample_poly

        from host_tools.audiofiles import read_wav

        pcm, file_rate = read_wav(Path(speech))
        if file_rate != rate:
            x = resample_poly(pcm.astype(np.float64), rate, file_rate)
            pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    fs = rate * res.PTIME_MS // 1000
    return pcm[: len(pcm) // fs * fs].copy()


def netstack_pesq(profile: Union[str, Impairment], speech_wav: Union[str, Path, np.ndarray], seed: int = 1,
                  codec: str = "g722", ptime_ms: int = 20) -> dict[str, Any]:
    """PESQ and STOI of the media stack alone through `profile` (a profile name, JSON or an
    Impairment), the same for the same seed.

    speech_wav: a 16-bit mono WAV file (resampled to the codec's rate if need be) or int16 PCM at
    that rate. codec: "g722" (16 kHz, PESQ-WB) or "g711" (µ-law, 8 kHz: pesq_nb instead).
    Returns pesq_wb (or pesq_nb), stoi, loss (the forward link's packet loss), delay_ms (mouth to
    ear on the simulated clock: the 20 ms capture frame, the network, the jitter buffer, the codec),
    speech_s, level_db and a few of the receiver's counts."""
    if codec not in res.CODECS:
        raise ValueError(f"codec must be one of {', '.join(res.CODECS)}, got {codec!r}")
    if ptime_ms != res.PTIME_MS:
        raise ValueError(f"the simulated call uses {res.PTIME_MS} ms frames (as the firmware does), got {ptime_ms}")
    imp = profile if isinstance(profile, Impairment) else profiles.load(profile)
    spec = res.CODECS[codec]
    pcm = _speech(speech_wav, spec.rate)
    call = res.simulate_call(spec, FIRMWARE_ENDPOINTS, pcm, imp, seed)
    scored = score_call(pcm, call.audio, spec.rate)
    # the output starts at the first pull (PULL_PHASE_MS); frame 0 was captured during the PTIME_MS before 0
    scored["delay_ms"] = round(scored["delay_ms"] + res.PULL_PHASE_MS + res.PTIME_MS, 2)
    rx, tx = call.rx, call.tx
    return {**scored, "loss": round(call.link_loss, 4), "concealed_ms": rx["concealed"] * res.BLOCK_MS,
            "late": rx["late"], "nack_recovered": rx["nack_recovered"], "retransmissions": tx["retransmissions"],
            "target_delay_ms": rx["target_delay_ms"]}
