"""`_nc.mpy` on a real MicroPython: each of the three dynamic native modules (armv6m, armv7m,
armv7emsp with Opus), exactly as built, loaded into MicroPython's stock ports/qemu firmware on
QEMU (mps2-an500, a Cortex-M7 that loads every Thumb architecture) and run on the codec vectors:
the outputs must give the lines of tests/vector_digests.py (the ITU references and the host
build) byte for byte. Also: the files declare the right architecture, bad arguments raise
cleanly (and the device keeps working), and the instruction clock of the emulated board counts
what the bench reports. The media stack on the same modules: tests/test_natmod_media.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from host_tools.audiofiles import fnv1a64
from host_tools.bench import codec as bench_codec
from host_tools.native import mpqemu, natmod
from tests.natmods import board, builtin_board  # noqa: F401
from tests.vector_digests import expected

# The harness of tests/c/vectors.c in MicroPython over _nc: the same inputs, chunks and order.
# Outputs go back to the host through semihosting (outdir/<name>.bin); both the allocating
# functions and their _into variants are used (ulaw/alaw, 64/56 kbit/s, ... alternate).
VECTORS = r'''
import _nc, gc

def _low(words):
    n = len(words) // 2
    out = bytearray(n)
    for i in range(n):
        out[i] = words[2 * i]
    return out

def _wav_data(b):
    i = 12
    while i + 8 <= len(b):
        size = int.from_bytes(b[i + 4:i + 8], 'little')
        if b[i:i + 4] == b'data':
            return memoryview(b)[i + 8:i + 8 + size]
        i += 8 + size + (size & 1)
    raise ValueError('no data chunk')

def vectors(td, out):
    res = {}
    outs = {}
    def put(name, data):
        f = outs.get(name)
        if f is None:
            f = outs[name] = ShFile(out + '/' + name + '.bin')
        f.write(data)
    sweep = memoryview(sh_read(td + '/itu-stl/g711/sweep.src'))
    buf = bytearray(320)
    for law, name, into in ((0, 'ulaw', False), (1, 'alaw', True)):
        back = bytearray(320)
        for i in range(0, len(sweep), 320):
            pcm = sweep[i:i + 320]
            if into:
                n = _nc.g711_encode_into(law, pcm, buf)
                codes = memoryview(buf)[:n]
                _nc.g711_decode_into(law, codes, back)
                put('g711-%s-encdec' % name, memoryview(back)[:2 * n])
            else:
                codes = _nc.g711_encode(law, pcm)
                put('g711-%s-encdec' % name, _nc.g711_decode(law, codes))
            put('g711-%s-enc' % name, codes)
        words = _low(sh_read(td + '/itu-stl/g711/sweep-r.' + name[0]))
        for i in range(0, len(words), 160):
            put('g711-%s-dec' % name, _nc.g711_decode(law, words[i:i + 160]))
        words = None
    sweep = None
    gc.collect()
    inp = memoryview(sh_read(td + '/itu-stl/g722/inpsp.bin'))
    st = _nc.g722_enc_new(64000)
    cbuf = bytearray(80)
    for i in range(0, len(inp), 320):
        n = _nc.g722_encode_into(st, inp[i:i + (min(320, len(inp) - i) & ~3)], cbuf)
        put('g722-enc', memoryview(cbuf)[:n])
    cod = _low(sh_read(td + '/itu-stl/g722/codspw.cod'))
    pbuf = bytearray(320)
    for rate, kbit in ((64000, 64), (56000, 56), (48000, 48)):
        st = _nc.g722_dec_new(rate)
        for i in range(0, len(cod), 80):
            if kbit == 64:
                put('g722-dec-64', _nc.g722_decode(st, cod[i:i + 80]))
            else:
                n = _nc.g722_decode_into(st, memoryview(cod)[i:i + 80], pbuf)
                put('g722-dec-%d' % kbit, memoryview(pbuf)[:n])
    cod = None
    gc.collect()
    speech = _wav_data(sh_read(td + '/speech/or105.wav'))
    enc, dec, wenc, wdec = _nc.adpcm_new(), _nc.adpcm_new(), _nc.adpcm_new(), _nc.adpcm_new()
    block, fill = bytearray(642), 0
    dbuf = bytearray(320)
    for i in range(0, len(speech), 320):
        chunk = speech[i:i + 320]
        p = _nc.dvi4_encode(enc, chunk[:len(chunk) & ~3])
        put('adpcm-dvi4-enc', p)
        n = _nc.dvi4_decode_into(dec, p, dbuf)
        put('adpcm-dvi4-dec', memoryview(dbuf)[:n])
        j = 0
        while j < len(chunk):
            k = min(len(chunk) - j, 642 - fill)
            block[fill:fill + k] = chunk[j:j + k]
            fill += k
            j += k
            if fill == 642:
                b = _nc.ima_encode(wenc, block, 164)
                put('adpcm-imawav-enc', b)
                put('adpcm-imawav-dec', _nc.ima_decode(wdec, b))
                fill = 0
    speech = None
    gc.collect()
    f2 = memoryview(sh_read(td + '/itu-stl/g711iplc/f2.le'))
    for pat, name, into in (('fe10', 'plc8-f2-fe10', False), ('fe10_2', 'plc8-f2-fe10_2', True)):
        g = sh_read(td + '/itu-stl/g711iplc/' + pat + '.g192')
        st = _nc.plc_new(8000)
        frame = bytearray(160)
        for k in range(len(f2) // 160):
            w = (k % (len(g) // 2)) * 2
            lost = g[w] == 0x20 and g[w + 1] == 0x6B
            if into:
                if lost:
                    _nc.plc_lost_into(st, frame)
                else:
                    _nc.plc_good_into(st, f2[160 * k:160 * k + 160], frame)
                y = frame
            else:
                y = _nc.plc_lost(st) if lost else _nc.plc_good(st, f2[160 * k:160 * k + 160])
            put(name, memoryview(y)[60:] if k == 0 else y)
        put(name, _nc.plc_good(st, bytes(160))[:60])
    st, lcg = _nc.plc_new(16000), 12345
    frame = bytearray(320)
    for k in range(len(inp) // 320):
        lcg = (lcg * 1103515245 + 12345) & 0xFFFFFFFF
        if (lcg >> 16) % 10 == 0:
            _nc.plc_lost_into(st, frame)
        else:
            frame[:] = inp[320 * k:320 * k + 320]
            _nc.plc_good_into(st, frame, frame)  # in place
        put('plc16-inpsp-lcg10', frame)
    for name, f in outs.items():
        f.close()
        res[name] = f.n
    return res
'''

# Each expected line's count is in samples (2 bytes) or bytes.
BYTES_COUNTED = {"g711-ulaw-enc", "g711-alaw-enc", "g722-enc", "adpcm-dvi4-enc", "adpcm-imawav-enc"}


@pytest.fixture(scope="module")
def mpys() -> dict[str, Path]:
    return natmod.build_all()




def load(board: mpqemu.Board, arch: str) -> None:
    """A fresh heap with build/natmod/<arch>/_nc.mpy mounted at /nc (and imported)."""
    board.soft_reset()
    board.load("/nc", {"_nc.mpy": natmod.path(arch)})
    assert board.exec("import _nc\nprint(_nc.__file__)").strip() == "/nc/_nc.mpy"


# The three .mpy files, and "builtin": the user C module form of the same binding.
TARGETS = [*natmod.ARCHS, "builtin"]


def target_board(request: pytest.FixtureRequest, target: str) -> mpqemu.Board:
    if target != "builtin":
        b: mpqemu.Board = request.getfixturevalue("board")
        load(b, target)
        return b
    b = request.getfixturevalue("builtin_board")
    b.soft_reset()
    assert b.exec("import _nc\nprint(hasattr(_nc, '__file__'), _nc.opus_version())").split() == ["False", "libopus", "1.3.1-fixed"]
    return b


def test_files_declare_their_architecture(mpys: dict[str, Path]) -> None:
    assert set(mpys) == set(natmod.ARCHS)
    for arch, p in mpys.items():
        assert p == natmod.path(arch) and p.is_file()
        h = natmod.header(p)
        assert (h.version, h.sub_version, h.arch) == (6, 3, arch)
    # only the armv7emsp module carries libopus (RP2040-class RAM would not hold it)
    sizes = {arch: p.stat().st_size for arch, p in mpys.items()}
    assert sizes["armv6m"] < 64 * 1024 and sizes["armv7m"] < 64 * 1024
    assert sizes["armv7emsp"] > sizes["armv7m"] + 100 * 1024


@pytest.mark.parametrize("target", TARGETS)
def test_vectors_equal_host(request: pytest.FixtureRequest, target: str, testdata: Path, tmp_path: Path) -> None:
    board = target_board(request, target)
    out = tmp_path / target
    out.mkdir()
    board.exec(VECTORS)
    sizes = eval(board.exec(f"print(vectors({str(testdata.resolve())!r}, {str(out)!r}))", timeout=600))  # noqa: S307 - a dict of ints from our device
    lines = []
    for line in expected(testdata):
        name = line.split()[0]
        data = (out / f"{name}.bin").read_bytes()
        assert len(data) == sizes[name]
        lines.append(f"{name} {len(data) // (1 if name in BYTES_COUNTED else 2)} {fnv1a64(data)}")
    assert lines == expected(testdata)


def test_opus_only_in_armv7emsp(board: mpqemu.Board) -> None:
    for arch in natmod.ARCHS:
        load(board, arch)
        got = board.exec("print(hasattr(_nc, 'opus_version') and _nc.opus_version())").strip()
        assert got == ("libopus 1.3.1-fixed" if arch in natmod.OPUS_ARCHS else "False"), arch


# Calls with bad arguments: each must raise the error named, and nothing else may happen.
BAD_CALLS = [
    ("ValueError", "_nc.g711_encode(2, bytes(4))"),
    ("ValueError", "_nc.g711_encode(0, bytes(3))"),
    ("TypeError", "_nc.g711_encode(0, 'text')"),
    ("TypeError", "_nc.g711_encode(0, [1, 2])"),
    ("ValueError", "_nc.g711_encode(0.5, bytes(4))"),
    ("ValueError", "_nc.g711_encode_into(0, bytes(8), bytearray(3))"),
    ("ValueError", "_nc.g711_encode_into(0, bytes(8), bytes(4))"),
    ("ValueError", "_nc.g711_decode_into(0, bytes(8), bytearray(15))"),
    ("ValueError", "_nc.g722_enc_new(32000)"),
    ("ValueError", "_nc.g722_enc_new(True)"),
    ("ValueError", "_nc.g722_enc_new(2 ** 40)"),
    ("ValueError", "_nc.g722_encode(e, bytes(6))"),
    ("ValueError", "_nc.g722_encode(e, memoryview(bytearray(9))[1:])"),
    ("ValueError", "_nc.g722_encode_into(e, bytes(640), bytearray(159))"),
    ("ValueError", "_nc.g722_encode(d, bytes(8))"),
    ("TypeError", "_nc.g722_encode(b'state', bytes(8))"),
    ("ValueError", "_nc.g722_decode_into(d, bytes(10), bytearray(39))"),
    ("ValueError", "_nc.g722_decode_into(d, bytes(10), memoryview(bytearray(41))[1:])"),
    ("ValueError", "_nc.dvi4_encode(a, bytes(6))"),
    ("ValueError", "_nc.dvi4_decode(a, bytes(3))"),
    ("ValueError", "_nc.dvi4_decode(a, b'\\x00\\x00\\x59\\x00' + bytes(4))"),
    ("ValueError", "_nc.dvi4_decode_into(a, bytes(8), bytearray(7))"),
    ("ValueError", "_nc.ima_encode(a, bytes(2 * 321), 165)"),
    ("ValueError", "_nc.ima_encode(a, bytes(2 * 321), 4)"),
    ("ValueError", "_nc.ima_decode(a, bytes(4))"),
    ("ValueError", "_nc.ima_decode(a, b'\\x00\\x00\\x60\\x00' + bytes(160))"),
    ("ValueError", "_nc.plc_new(11025)"),
    ("ValueError", "_nc.plc_good(p, bytes(100))"),
    ("ValueError", "_nc.plc_good(p, bytes(0))"),
    ("ValueError", "_nc.plc_good_into(p, bytes(160), bytearray(100))"),
    ("ValueError", "_nc.plc_lost_into(p, bytearray(170))"),
    ("ValueError", "_nc.plc_lost_into(p, bytes(160))"),
    ("ValueError", "_nc.media_tx_new(5, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4)"),
    ("ValueError", "_nc.media_tx_new(2, 25, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4)"),
    ("ValueError", "_nc.media_tx_new(2, 20, 40, 0, 1, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4)"),
    ("ValueError", "_nc.media_tx_new(2, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 96, 1000, 1, 2, 3, 4)"),
    ("ValueError", "_nc.media_tx_new(2, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 2 ** 32, 2, 3, 4)"),
    ("ValueError", "_nc.media_tx_new(2, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, -1, 2, 3, 4)"),
    ("ValueError", "_nc.media_tx_new(2, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 70000, 4)"),
    ("ValueError", "_nc.media_tx_new(2, 20, 40, 2, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4)"),
    ("ValueError", "_nc.media_tx_new(2, 20, 40, 0, 0, 1, 7, 1, 64000, 96, 97, 1000, 1, 2, 3, 4)"),
    ("TypeError", "_nc.media_tx_new(2, 20, 40)"),
    ("ValueError", "_nc.media_rx_new(2, 20, 60, 100, None, 0, 0, 1, 100, 2, 96, 97, 1000, 1)"),
    ("ValueError", "_nc.media_rx_new(2, 20, 60, 400, 390, 0, 0, 1, 100, 2, 96, 97, 1000, 1)"),
    ("ValueError", "_nc.media_rx_new(2, 20, 60, 400, 0, 0, 0, 1, 100, 2, 96, 97, 1000, 1)"),
    ("ValueError", "_nc.media_rx_new(2, 20, 60, 400, None, 0, 0, 1, 100, 5, 96, 97, 1000, 1)"),
    ("ValueError", "_nc.media_tx_push(t, bytes(100), 0)"),
    ("ValueError", "_nc.media_tx_push(t, bytes(0), 0)"),
    ("ValueError", "_nc.media_tx_push(t, bytes(320 * 5), 0)"),
    ("ValueError", "_nc.media_tx_push(t, bytes(640), -1)"),
    ("ValueError", "_nc.media_tx_push(t, bytes(640), 1.5)"),
    ("TypeError", "_nc.media_tx_push(t, [0] * 320, 0)"),
    ("ValueError", "_nc.media_tx_push(r, bytes(640), 0)"),
    ("ValueError", "_nc.media_tx_poll_into(t, bytes(1024), 0)"),
    ("ValueError", "_nc.media_tx_poll_into(t, bytearray(0), 0)"),
    ("ValueError", "_nc.media_rx_pull_into(r, bytearray(639), 0)"),
    ("ValueError", "_nc.media_rx_pull_into(r, bytes(640), 0)"),
    ("ValueError", "_nc.media_rx_pull_into(r, memoryview(bytearray(642))[1:], 0)"),
    ("TypeError", "_nc.media_rx_packet(r, 'text', 0)"),
    ("ValueError", "_nc.media_rx_packet(r, b'', None)"),
    ("ValueError", "_nc.media_rx_stats(t, 0)"),
    ("TypeError", "_nc.media_free(3)"),
]


@pytest.mark.parametrize("arch", TARGETS)
def test_bad_arguments_raise_and_nothing_breaks(request: pytest.FixtureRequest, arch: str) -> None:
    board = target_board(request, arch)
    board.exec(
        "e = _nc.g722_enc_new(64000)\nd = _nc.g722_dec_new(64000)\na = _nc.adpcm_new()\np = _nc.plc_new(8000)\n"
        "t = _nc.media_tx_new(2, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4)\n"
        "r = _nc.media_rx_new(2, 20, 60, 400, None, 0, 0, 1, 100, 2, 96, 97, 1000, 1)\n"
        "def err(src):\n"
        "    try:\n        eval(src)\n    except Exception as x:\n        return type(x).__name__\n    return '-'\n")
    got = board.exec(f"print([err(s) for s in {[c for _e, c in BAD_CALLS]!r}])").strip()
    assert got == repr([e for e, _c in BAD_CALLS]), [c for (e, c), g in zip(BAD_CALLS, eval(got)) if e != g]  # noqa: S307
    # messages name the argument and the range, as the other backends' do
    msg = board.exec("try:\n _nc.media_tx_new(2, 25, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4)\n"
                     "except ValueError as x:\n print(x)").strip()
    assert msg == "ptime_ms must be from 10 to 60 in steps of 10, got 25"
    # the states still work, a closed one is refused, unaligned or not
    out = board.exec(
        "print(len(_nc.g722_encode(e, bytes(640))), _nc.media_rx_pull_into(r, bytearray(640), 20))\n"
        "_nc.media_free(t)\nprint(err('_nc.media_tx_poll(t, 0)'), err('_nc.media_tx_stats(t)'))").split()
    assert out == ["160", "640", "ValueError", "ValueError"]
    if arch in natmod.OPUS_ARCHS or arch == "builtin":
        opus_bad = [
            "_nc.media_tx_new(4, 40, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4)",
            "_nc.media_tx_new(4, 20, 40, 1, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4)",
            "_nc.media_tx_new(4, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4, 96)",
            "_nc.media_tx_new(4, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4, 111, 5000)",
            "_nc.media_tx_new(4, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4, 111, 24000, 11)",
            "_nc.media_rx_new(4, 20, 10, 400, None, 0, 0, 1, 100, 2, 96, 97, 1000, 1)",
        ]
        assert board.exec(f"print(''.join(err(s)[0] for s in {opus_bad!r}))").strip() == "V" * len(opus_bad)
    else:
        msg = board.exec("try:\n _nc.media_rx_new(4, 20, 60, 400, None, 0, 0, 1, 100, 2, 96, 97, 1000, 1)\n"
                         "except ValueError as x:\n print(x)").strip()
        assert "built without libopus" in msg


TX_ARGS = "2, 20, 40, 0, 0, 1, 16, 1, 64000, 96, 97, 1000, 1, 2, 3, 4"
RX_ARGS = "2, 20, 60, 400, None, 0, 0, 1, 100, 2, 96, 97, 1000, 1"


@pytest.mark.parametrize("arch", TARGETS)
def test_a_closed_media_state_is_memory_for_the_next(request: pytest.FixtureRequest, arch: str) -> None:
    """media_tx_new/media_rx_new(spare, ...): a closed state with room enough becomes the new
    state (the same object, so a call allocates nothing), and works as a new one does; a state
    still open, or too small, is left alone and a new object is made."""
    board = target_board(request, arch)
    out = board.exec(
        f"t = _nc.media_tx_new({TX_ARGS})\nr = _nc.media_rx_new({RX_ARGS})\n"
        "_nc.media_free(t)\n_nc.media_free(r)\n"
        f"t2 = _nc.media_tx_new(t, {TX_ARGS})\nr2 = _nc.media_rx_new(r, {RX_ARGS})\n"
        "print(t2 is t, r2 is r)\n"
        "pcm = bytes(range(256)) * 5\n"
        "_nc.media_tx_push(t2, pcm, 0)\np = _nc.media_tx_poll(t2, 0)\n"
        f"f = _nc.media_tx_new(None, {TX_ARGS})\n_nc.media_tx_push(f, pcm, 0)\n"
        "print(p == _nc.media_tx_poll(f, 0), _nc.media_rx_packet(r2, p, 0))\n"
        f"t3 = _nc.media_tx_new(t2, {TX_ARGS})\nprint(t3 is t2, _nc.media_tx_stats(t2)['packets'] == 1)\n"
        "small = _nc.adpcm_new()\n_nc.media_free(small)\n"
        f"t4 = _nc.media_tx_new(small, {TX_ARGS})\nprint(t4 is small, _nc.state_bytes(t4) > 1000)\n").split()
    assert out == ["True", "True", "True", "0", "False", "True", "False", "True"], out


def test_instruction_clock_counts_instructions() -> None:
    """Under -icount shift=0 a loop of 2,000,000 instructions reads 2,000 µs on time.ticks_us()."""
    with mpqemu.Board(icount=True) as b:
        assert b.calibrate(1_000_000) == pytest.approx(1000.0, rel=0.002)


def test_bench_figures_per_architecture(mpys: dict[str, Path]) -> None:
    """`edgecall bench codec`'s _nc.mpy section: every architecture measured, Opus where built."""
    r = bench_codec.natmod_figures(frames=20)
    assert r["instructions_per_us"] == pytest.approx(1000.0, rel=0.002) and r["frames"] == 20
    assert set(r["archs"]) == set(natmod.ARCHS)
    base = {"loop+slice", "g722-enc+dec", "g722-enc+dec-new-bytes", "media-g722-tx", "media-g722-rx",
            "media-g722-tx+rx"}
    opus = {"media-opus-tx", "media-opus-rx", "media-opus-tx+rx"}
    for arch, a in r["archs"].items():
        ipf = a["instructions_per_20ms"]
        assert set(ipf) == base | (opus if arch in natmod.OPUS_ARCHS else set()), arch
        assert a["mpy_bytes"] == mpys[arch].stat().st_size and a["opus"] == (arch in natmod.OPUS_ARCHS)
        # the module's code is copied into the heap when imported
        assert a["mpy_bytes"] * 0.9 < a["loaded_heap_bytes"] < a["mpy_bytes"] * 1.2, arch
        assert 0 < ipf["loop+slice"] < 10_000 < ipf["g722-enc+dec"] < ipf["g722-enc+dec-new-bytes"]
        assert ipf["media-g722-tx+rx"] == ipf["media-g722-tx"] + ipf["media-g722-rx"]
    # the same C costs more instructions in Thumb-1 (armv6m) than in Thumb-2; Opus encodes dearly
    ipf = {arch: a["instructions_per_20ms"] for arch, a in r["archs"].items()}
    assert ipf["armv6m"]["g722-enc+dec"] > ipf["armv7m"]["g722-enc+dec"] * 1.3
    assert ipf["armv7emsp"]["media-opus-tx"] > 3 * ipf["armv7emsp"]["media-g722-tx"]
