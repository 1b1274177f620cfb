"""The speech corpus: real wideband speech clips for the quality measurements.

Per language (es, fr, it, ru) a deterministic clip of 16 kHz mono int16 PCM, at least 20 s long
(default 24 s), built from the prompts of Debian's `asterisk-core-sounds-<lang>-g722` package
(studio recordings at 16 kHz, G.722 at 64 kbit/s, one voice per language). The English set is
deliberately not used: it is kept out of the project for independent checks.

How a clip is built:
- the package's own prompts (the top folder of its voice, not digits/letters/phonetic/silence, not
  the tones `beep`, `beeperr`, `ascending-2tone`, `descending-2tone`), each checked against the
  MD5 that dpkg recorded for it (a truncated or altered file is an error, an empty one too unless
  the package itself ships it empty, which is skipped) and decoded with
  native_codec's G.722 decoder (bit-exact with ffmpeg's, tests/test_speech.py);
- their sorted names shuffled with a seeded `random.Random` (seed from the language and `seed`);
  prompts are taken in that order, skipping those whose speech lasts less than 0.5 s or more
  than 6 s (so a clip holds several utterances), until the clip reaches the target length (a
  prompt that would overshoot it by more than 2 s is skipped);
- each prompt's speech span is where its 10 ms frames are within 25 dB of its active speech level;
  between two prompts there is a pause of 300-700 ms (uniform, from the same generator) measured
  from the end of one span to the start of the next: up to 250 ms of each prompt's own recorded
  silence on either side (at most half the pause), the rest digital zeros (the package's own
  `silence/*.g722` files are digital silence too); the clip starts and ends with up to 250 ms of
  the first and last prompts' silence;
- one gain for the whole clip puts its active speech level at -26 dBov (0 dBov: the RMS of a
  full-scale square wave, 32768), with no sample clipped (an error if the gain would clip).

Active speech level (after ITU-T P.56, simplified and documented here): the RMS over the 10 ms
frames whose own RMS is at most 15.9 dB (P.56's margin) below that level, found by fixed-point
iteration from the RMS over all frames (a few iterations; frames of digital silence never count).

The clips are cached in build/speech/ (never committed) as WAV files with a JSON manifest: the
package and its version, each source prompt with its SHA-256, the settings, the level and the
PCM's SHA-256. A clip is rebuilt when any of those no longer match (another package version, a
changed prompt file, a changed prompt list, other settings or another builder version).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import wave
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from host_tools.audiofiles import write_wav

from host_tools.paths import BUILD

RATE = 16000
FRAME = RATE // 100                 # 10 ms
LANGUAGES = ("es", "fr", "it", "ru")
PACKAGES = {lang: f"asterisk-core-sounds-{lang}-g722" for lang in LANGUAGES}
SOUNDS = Path("/usr/share/asterisk/sounds")
TONES = frozenset({"beep", "beeperr", "ascending-2tone", "descending-2tone"})
DEFAULT_SECONDS = 24.0
MIN_SECONDS = 20.0
TARGET_DBOV = -26.0
P56_MARGIN_DB = 15.9
SPAN_BELOW_LEVEL_DB = 25.0
EDGE_MS = 250
PAUSE_MS = (300, 700)
PROMPT_SPEECH_S = (0.5, 6.0)
OVERSHOOT_S = 2.0
CACHE = BUILD / "speech"
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
BUILDER = 2                         # bump when the way a clip is built changes


class SpeechCorpusError(Exception):
    """The corpus cannot be built: a missing package or folder, a bad prompt file, bad settings."""


@dataclass(frozen=True)
class Source:
    """Where one language's prompts are: the voice folder, and the MD5 of each prompt file as its
    package recorded it (file name -> hex digest; empty: not checked)."""

    language: str
    package: str
    version: str
    folder: Path
    md5: dict[str, str]


def _install_hint(package: str) -> str:
    return f"install it with: sudo apt-get install -y {package} (./edgecall installs it when it bootstraps)"


def _dpkg(*args: str) -> Optional[str]:
    try:
        p = subprocess.run(["dpkg-query", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return p.stdout if p.returncode == 0 else None


def package_source(language: str, package: Optional[str] = None) -> Source:
    """The installed package's voice folder, version and recorded MD5s for `language`."""
    if language not in PACKAGES:
        raise SpeechCorpusError(f"speech corpus: language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    pkg = package or PACKAGES[language]
    status = _dpkg("-W", "-f=${Version}|${Status}", pkg)
    if status is None or not status.strip().endswith("install ok installed"):
        raise SpeechCorpusError(f"speech corpus ({language}): Debian package {pkg} is not installed; {_install_hint(pkg)}")
    version = status.split("|", 1)[0]
    md5: dict[str, str] = {}
    folders: set[Path] = set()
    path = _dpkg("--control-path", pkg, "md5sums")
    sums = Path(path.strip()) if path else None
    if sums is None or not sums.is_file():
        raise SpeechCorpusError(f"speech corpus ({language}): dpkg has no md5sums for {pkg}; "
                                f"reinstall it: sudo apt-get install --reinstall -y {pkg}")
    for line in sums.read_text().splitlines():
        digest, _, rel = line.partition("  ")
        f = Path("/") / rel
        if f.suffix == ".g722" and f.parent.parent == SOUNDS:
            md5[f.name] = digest
            folders.add(f.parent)
    if len(folders) != 1:
        raise SpeechCorpusError(f"speech corpus ({language}): expected one voice folder under {SOUNDS} in {pkg}, "
                                f"found {sorted(map(str, folders))}")
    return Source(language, pkg, version, folders.pop(), md5)


def prompt_names(source: Source) -> list[str]:
    """The voice folder's speech prompts (file names), sorted."""
    if not source.folder.is_dir():
        raise SpeechCorpusError(f"speech corpus ({source.language}): prompt folder {source.folder} not found "
                                f"(package {source.package}; reinstall it: sudo apt-get install --reinstall -y "
                                f"{source.package})")
    names = sorted(p.name for p in source.folder.glob("*.g722") if p.is_file() and p.stem not in TONES)
    if not names:
        raise SpeechCorpusError(f"speech corpus ({source.language}): no .g722 prompts in {source.folder}")
    return names


def read_prompt(source: Source, name: str) -> bytes:
    """One prompt's G.722 bytes, checked against the package's MD5 when it has one, and not empty
    (unless the package itself ships it empty: ru's `is.g722` is 0 bytes in 1.6.1-1; b"" then)."""
    path = source.folder / name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SpeechCorpusError(f"speech corpus ({source.language}): cannot read {path}: {e.strerror}") from e
    want = source.md5.get(name)
    if want is not None and hashlib.md5(data).hexdigest() != want:
        raise SpeechCorpusError(f"speech corpus ({source.language}): {path} ({len(data)} bytes) does not match the "
                                f"MD5 {source.package} recorded for it (truncated or altered); reinstall it: "
                                f"sudo apt-get install --reinstall -y {source.package}")
    if not data and want != EMPTY_MD5:
        raise SpeechCorpusError(f"speech corpus ({source.language}): {path} is empty")
    return data


def decode_g722(data: bytes) -> np.ndarray:
    """A G.722 stream at 64 kbit/s (two 16 kHz samples a byte) from a reset decoder."""
    import native_codec as nc

    return np.asarray(nc.G722Decoder(64000).decode(data), dtype=np.int16)


# ---- levels ------------------------------------------------------------------------------------

def _frame_power(x: np.ndarray) -> np.ndarray:
    n = len(x) // FRAME
    f = x[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    return np.mean(f * f, axis=1)


def _dbov(power: float) -> float:
    return 10.0 * float(np.log10(power / 32768.0 ** 2)) if power > 0 else float("-inf")


def active_level_dbov(x: np.ndarray) -> float:
    """Active speech level (dBov): the RMS over the 10 ms frames at most 15.9 dB below it (a
    fixed point, iterated from the RMS over all frames). -inf for digital silence."""
    power = _frame_power(x)
    power = power[power > 0]
    if power.size == 0:
        return float("-inf")
    level = float(np.mean(power))
    for _ in range(50):
        active = power[power >= level * 10 ** (-P56_MARGIN_DB / 10)]
        new = float(np.mean(active))
        if abs(new - level) <= 1e-6 * level:
            break
        level = new
    return _dbov(level)


def speech_span(x: np.ndarray) -> tuple[int, int]:
    """(first, end) samples of the frames within 25 dB of the active level; (0, 0) if none."""
    level = active_level_dbov(x)
    if level == float("-inf"):
        return 0, 0
    db = np.array([_dbov(p) for p in _frame_power(x)])
    on = np.flatnonzero(db >= level - SPAN_BELOW_LEVEL_DB)
    return int(on[0]) * FRAME, (int(on[-1]) + 1) * FRAME


# ---- building a clip ---------------------------------------------------------------------------

@dataclass
class Prompt:
    name: str
    pcm: np.ndarray
    start: int   # speech span in pcm
    end: int
    sha256: str


def _rng(language: str, seed: int) -> random.Random:
    return random.Random(zlib.crc32(language.encode()) * 1000003 + seed)


def _choose(source: Source, seconds: float, rng: random.Random) -> tuple[list[Prompt], list[int]]:
    """Prompts in the seeded order and the pauses (samples) between them, up to `seconds`."""
    order = prompt_names(source)
    rng.shuffle(order)
    lo, hi = (round(s * RATE) for s in PROMPT_SPEECH_S)
    target, limit = round(seconds * RATE), round((seconds + OVERSHOOT_S) * RATE)
    edge = EDGE_MS * RATE // 1000
    chosen: list[Prompt] = []
    pauses: list[int] = []
    total = 0
    for name in order:
        data = read_prompt(source, name)
        if not data:
            continue
        pcm = decode_g722(data)
        start, end = speech_span(pcm)
        if not lo <= end - start <= hi:
            continue
        pause = rng.randint(*PAUSE_MS) * RATE // 1000 if chosen else 0
        lead = min(edge, start) if not chosen else 0
        added = pause + lead + (end - start)
        tail = min(edge, len(pcm) - end)  # if this prompt ends the clip
        if total + added + tail > limit:
            continue
        chosen.append(Prompt(name, pcm, start, end, hashlib.sha256(data).hexdigest()))
        if pause:
            pauses.append(pause)
        total += added
        if total + tail >= target:
            return chosen, pauses
    raise SpeechCorpusError(f"speech corpus ({source.language}): the prompts in {source.folder} give only "
                            f"{total / RATE:.1f} s of speech, {seconds} s asked")


def _assemble(prompts: list[Prompt], pauses: list[int]) -> tuple[np.ndarray, list[float]]:
    """The prompts' spans joined by the pauses; returns the PCM (float) and each span's start (s)."""
    edge = EDGE_MS * RATE // 1000
    parts: list[np.ndarray] = []
    starts: list[float] = []
    pos = prev_tail = 0
    for i, p in enumerate(prompts):
        head = min(edge, p.start) if i == 0 else min(edge, pauses[i - 1] - pauses[i - 1] // 2, p.start)
        tail = min(edge, len(p.pcm) - p.end) if i == len(prompts) - 1 else min(edge, pauses[i] // 2, len(p.pcm) - p.end)
        if i > 0:  # the rest of the pause: zeros between the previous tail and this head
            gap = pauses[i - 1] - prev_tail - head
            parts.append(np.zeros(gap))
            pos += gap
        starts.append(round((pos + head) / RATE, 3))
        seg = p.pcm[p.start - head: p.end + tail].astype(np.float64)
        parts.append(seg)
        pos += len(seg)
        prev_tail = tail
    return np.concatenate(parts), starts


@dataclass(frozen=True)
class Clip:
    language: str
    pcm: np.ndarray          # int16, 16 kHz mono
    manifest: dict[str, Any]


def build_clip(source: Source, seconds: float = DEFAULT_SECONDS, seed: int = 1) -> Clip:
    """A fresh clip (no cache): see the module docstring."""
    if not MIN_SECONDS <= seconds <= 600:
        raise SpeechCorpusError(f"speech corpus: a clip lasts {MIN_SECONDS:.0f} to 600 s, got {seconds}")
    prompts, pauses = _choose(source, seconds, _rng(source.language, seed))
    x, starts = _assemble(prompts, pauses)
    level = active_level_dbov(x)
    gain = 10 ** ((TARGET_DBOV - level) / 20)
    y = np.round(x * gain)
    peak = float(np.max(np.abs(y)))
    if peak > 32767:
        raise SpeechCorpusError(f"speech corpus ({source.language}): {TARGET_DBOV} dBov would clip "
                                f"(peak {peak:.0f}); the prompts are too peaky")
    pcm = y.astype(np.int16)
    manifest = {
        "builder": BUILDER, "language": source.language, "package": source.package, "version": source.version,
        "folder": str(source.folder), "target_seconds": seconds, "seed": seed, "rate": RATE,
        "prompt_list_sha256": _list_digest(prompt_names(source)),
        "prompts": [{"file": p.name, "sha256": p.sha256, "start_s": s, "speech_s": round((p.end - p.start) / RATE, 3)}
                    for p, s in zip(prompts, starts)],
        "pauses_ms": [round(q * 1000 / RATE) for q in pauses],
        "seconds": round(len(pcm) / RATE, 3), "active_level_dbov": round(active_level_dbov(pcm), 2),
        "source_level_dbov": round(level, 2), "gain_db": round(TARGET_DBOV - level, 2), "peak": int(np.max(np.abs(pcm))),
        "method": {"level": f"RMS over 10 ms frames at most {P56_MARGIN_DB} dB below the level (P.56-like)",
                   "target_dbov": TARGET_DBOV, "edge_ms": EDGE_MS, "pause_ms": list(PAUSE_MS),
                   "prompt_speech_s": list(PROMPT_SPEECH_S), "span_below_level_db": SPAN_BELOW_LEVEL_DB,
                   "decoder": "native_codec.G722Decoder(64000)"},
        "pcm_sha256": hashlib.sha256(pcm.tobytes()).hexdigest(),
    }
    return Clip(source.language, pcm, manifest)


def _list_digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


# ---- the cache ---------------------------------------------------------------------------------

def _paths(cache: Path, language: str, seconds: float, seed: int) -> tuple[Path, Path]:
    stem = f"{language}-{seconds:g}s-seed{seed}"
    return cache / f"{stem}.wav", cache / f"{stem}.json"


def _still_valid(m: dict[str, Any], source: Source, seconds: float, seed: int, wav: Path) -> bool:
    if (m.get("builder"), m.get("package"), m.get("version"), m.get("folder"), m.get("target_seconds"), m.get("seed")) != \
            (BUILDER, source.package, source.version, str(source.folder), seconds, seed):
        return False
    if not wav.is_file() or m.get("prompt_list_sha256") != _list_digest(prompt_names(source)):
        return False
    for p in m.get("prompts", []):
        f = source.folder / p["file"]
        if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != p["sha256"]:
            return False
    return True


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, RATE):
            raise SpeechCorpusError(f"speech corpus: {path} is not 16 kHz mono 16-bit")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _save(clip: Clip, wav: Path, man: Path) -> None:
    write_wav(wav, clip.pcm, RATE)
    _write_atomic(man, lambda p: p.write_text(json.dumps(clip.manifest, indent=2) + "\n"))


def load_clip(language: str, seconds: float = DEFAULT_SECONDS, seed: int = 1, *, source: Optional[Source] = None,
              cache: Path = CACHE) -> Clip:
    """The clip from the cache, built (and cached) when missing or when its inputs changed."""
    src = source or package_source(language)
    wav, man = _paths(cache, src.language, seconds, seed)
    if man.is_file():
        try:
            m = json.loads(man.read_text())
        except (OSError, ValueError):
            m = {}
        if _still_valid(m, src, seconds, seed, wav):
            pcm = _read_wav(wav)
            if hashlib.sha256(pcm.tobytes()).hexdigest() == m.get("pcm_sha256"):
                return Clip(src.language, pcm, m)
    clip = build_clip(src, seconds, seed)
    _save(clip, wav, man)
    return clip


def clip(language: str, seconds: float = DEFAULT_SECONDS, seed: int = 1) -> np.ndarray:
    """The language's clip (16 kHz mono int16), from the cache in build/speech/."""
    return load_clip(language, seconds, seed).pcm
