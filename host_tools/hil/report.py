"""Reports of a HIL run: the runner's result dict (schema 1) written as JSON, JUnit XML, one
self-contained HTML page (inline CSS and SVG, no scripts, no external resources) and a plain-text
summary for the terminal.

Anything in the result beyond what `validate` requires may be missing or empty; the writers then
say "no data" where a table or plot would be.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import os
import re
import socket
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from host_tools.hil import svgplot

SCHEMA = 1

Result = Mapping[str, Any]

# Characters XML 1.0 does not allow (C0 controls other than tab/LF/CR, surrogates, U+FFFE/U+FFFF).
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LOG_LINES_MAX = 2000


# ---------------------------------------------------------------------------------------------
# validation and JSON


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _is_bool(v: object) -> bool:
    return isinstance(v, (bool, np.bool_))


def validate(result: object) -> list[str]:
    """Problems that make `result` not a schema-1 HIL result ([] when it is valid)."""
    if not isinstance(result, Mapping):
        return [f"result: expected a dict, got {type(result).__name__}"]
    problems: list[str] = []

    def need(obj: Mapping[str, Any], key: str, where: str, check: Any, what: str) -> Any:
        if key not in obj:
            problems.append(f"{where}{key}: missing key '{key}'")
            return None
        if not check(obj[key]):
            problems.append(f"{where}{key}: expected {what}, got {type(obj[key]).__name__} {obj[key]!r:.60}")
            return None
        return obj[key]

    schema = need(result, "schema", "", _is_number, "an integer")
    if schema is not None and schema != SCHEMA:
        problems.append(f"schema: expected {SCHEMA}, got {schema!r}")
    need(result, "passed", "", _is_bool, "a bool")
    scenarios = need(result, "scenarios", "", lambda v: isinstance(v, list), "a list")
    for i, sc in enumerate(scenarios or []):
        where = f"scenarios[{i}]."
        if not isinstance(sc, Mapping):
            problems.append(f"scenarios[{i}]: expected a dict, got {type(sc).__name__}")
            continue
        need(sc, "name", where, lambda v: isinstance(v, str) and v != "", "a non-empty string")
        need(sc, "passed", where, _is_bool, "a bool")
        need(sc, "devices", where, lambda v: isinstance(v, list) and all(isinstance(d, str) for d in v),
             "a list of device ids")
        need(sc, "duration_s", where, _is_number, "a number")
        need(sc, "error", where, lambda v: v is None or isinstance(v, str), "null or a string")
        if "diagnostics" in sc and not (sc["diagnostics"] is None or isinstance(sc["diagnostics"], Mapping)):
            problems.append(f"{where}diagnostics: expected null or a dict per device")
    metrics = need(result, "metrics", "", lambda v: isinstance(v, Mapping), "a dict")
    if metrics is not None:
        for key in ("join_ms", "first_audio_ms"):
            m = need(metrics, key, "metrics.", lambda v: isinstance(v, Mapping), "a dict")
            if m is not None:
                for q in ("p50", "p95"):
                    need(m, q, f"metrics.{key}.", lambda v: v is None or _is_number(v), "a number or null")
        for key in ("pesq_wb", "call_success"):
            need(metrics, key, "metrics.", lambda v: isinstance(v, Mapping), "a dict (per profile)")
    for key, kind in (("devices", list), ("series", Mapping)):
        if key in result and not isinstance(result[key], kind):
            problems.append(f"{key}: expected a {'list' if kind is list else 'dict'}")
    return problems


def _jsonable(obj: Any, where: str = "result") -> Any:
    """A copy of obj with plain JSON types: NaN/±inf → None, numpy scalars/arrays → Python."""
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist(), where)
    if isinstance(obj, np.generic):
        return _jsonable(obj.item(), where)
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(f"{where}: {type(obj).__name__} cannot be written as JSON")


def _atomic_write(path: Path | str, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def to_json(result: Result) -> str:
    """The result as strict JSON text (sorted keys, NaN as null); ValueError if it is invalid."""
    problems = validate(result)
    if problems:
        raise ValueError("invalid HIL result (schema %d): %s" % (SCHEMA, "; ".join(problems)))
    return json.dumps(_jsonable(result), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(result: Result, path: Path | str) -> Path:
    """Write the result as JSON, atomically. Refuses (ValueError naming the problems) an invalid one."""
    # A lone surrogate (text decoded with surrogateescape) can only sit inside a JSON string, where
    # backslashreplace's \udcXX is exactly JSON's escape for it: the file stays strict UTF-8 JSON.
    return _atomic_write(path, to_json(result).encode("utf-8", errors="backslashreplace"))


# ---------------------------------------------------------------------------------------------
# shared helpers


def _d(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _l(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple)) else []


def _num(v: Any) -> float | None:
    if _is_number(v):
        f = float(v)
        return f if math.isfinite(f) else None
    return None


def _fmt(v: Any, digits: int = 1, unit: str = "", missing: str = "n/a") -> str:
    n = _num(v)
    if n is None:
        return missing if v is None or isinstance(v, float) else str(v)
    return f"{n:.{digits}f}{unit}"


def _fmt_value(v: Any) -> str:
    """A metric for a table: integers as they are, other numbers to 4 significant digits."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return str(v)
    n = _num(v)
    if n is not None:
        return f"{n:.4g}" if abs(n) < 1e6 else f"{n:.0f}"
    return "n/a" if v is None or isinstance(v, float) else str(v)


def _xml_safe(text: str) -> str:
    """Text with the characters XML 1.0 forbids shown as \\xNN / \\uNNNN escapes."""
    def esc(m: re.Match[str]) -> str:
        c = ord(m.group())
        return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    return _XML_FORBIDDEN.sub(esc, text)


def _e(v: Any) -> str:
    return html.escape(_xml_safe(str(v)), quote=True)


def _scenarios(result: Result) -> list[Mapping[str, Any]]:
    return [s for s in _l(result.get("scenarios")) if isinstance(s, Mapping)]


def _profiles(metrics: Mapping[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for key in ("pesq_wb", "netstack_pesq_wb", "stoi", "call_success"):
        for p in _d(metrics.get(key)):
            seen.setdefault(str(p), None)
    return list(seen)


def _with_range(median: Any, spread: Mapping[str, Any], digits: int, unit: str = "") -> str:
    """"median (min-max)" of a per-profile figure; the median alone when there is no spread."""
    text = _fmt(median if median is not None else spread.get("median"), digits, unit)
    lo, hi = _num(spread.get("min")), _num(spread.get("max"))
    if lo is not None and hi is not None:
        text += f" ({lo:.{digits}f}-{hi:.{digits}f})"
    return text


def _mouth_to_ear(spread: Mapping[str, Any]) -> str:
    """"median / max ms" of a profile's mouth-to-ear delays."""
    if _num(spread.get("median")) is None:
        return "n/a"
    return f"{_fmt(spread.get('median'), 0)} / {_fmt(spread.get('max'), 0)} ms"


def _flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar metrics as (dotted.name, value); lists (samples, series) are left out."""
    out: list[tuple[str, Any]] = []
    for k in sorted(metrics, key=str):
        v = metrics[k]
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.extend(_flat_metrics(v, name + "."))
        elif v is None or isinstance(v, (str, bool)) or _is_number(v):
            out.append((name, v))
    return out


def _error_head(error: Any, limit: int = 200) -> str:
    text = str(error or "").strip()
    head = text.splitlines()[0] if text else ""
    return head if len(head) <= limit else head[: limit - 1] + "…"


def _log_lines(log: Any) -> list[str]:
    lines: list[str] = []
    for entry in _l(log):
        if isinstance(entry, (list, tuple)) and len(entry) >= 4:
            seq, t_ms, level, text = entry[:4]
            lines.append(f"{seq!s:>5} {_fmt(t_ms, 0):>9} ms {str(level):<5} {text}")
        else:
            lines.append(str(entry))
    return lines


# ---------------------------------------------------------------------------------------------
# JUnit


def _junit_timestamp(started: Any) -> str | None:
    if not isinstance(started, str) or not started:
        return None
    try:
        t = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t.isoformat(timespec="seconds")


def to_junit(result: Result) -> bytes:
    """The result as JUnit XML (one testcase per scenario), UTF-8 with an XML declaration."""
    scenarios = _scenarios(result)
    failures = sum(1 for s in scenarios if not s.get("passed"))
    total = _num(result.get("duration_s"))
    if total is None:
        total = sum(_num(s.get("duration_s")) or 0.0 for s in scenarios)
    name = _xml_safe(str(result.get("tool") or "edgecall hil"))
    skipped = sum(1 for s in scenarios if s.get("passed") and s.get("skipped"))
    counts = {"tests": str(len(scenarios)), "failures": str(failures), "errors": "0", "skipped": str(skipped),
              "time": f"{total:.3f}"}
    root = ET.Element("testsuites", {"name": name, **counts})
    suite_attrs = {"name": name, **counts, "hostname": _xml_safe(socket.gethostname())}
    stamp = _junit_timestamp(result.get("started"))
    if stamp:
        suite_attrs["timestamp"] = stamp
    suite = ET.SubElement(root, "testsuite", suite_attrs)

    props = ET.SubElement(suite, "properties")
    header = [("passed", result.get("passed")), ("version", result.get("version")), ("command", result.get("command"))]
    header += [(f"device.{d.get('id')}", " ".join(f"{k}={d[k]}" for k in ("kind", "port", "version", "uid") if k in d))
               for d in _l(result.get("devices")) if isinstance(d, Mapping)]
    for key, value in header + [(f"metrics.{k}", v) for k, v in _flat_metrics(_d(result.get("metrics")))]:
        if value is None:
            continue
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        ET.SubElement(props, "property", {"name": _xml_safe(str(key)), "value": _xml_safe(text)})
    if len(props) == 0:
        suite.remove(props)

    for sc in scenarios:
        case = ET.SubElement(suite, "testcase", {
            "classname": "edgecall.hil",
            "name": _xml_safe(str(sc.get("name") or "?")),
            "time": f"{_num(sc.get('duration_s')) or 0.0:.3f}",
        })
        if sc.get("passed"):
            if sc.get("skipped"):
                ET.SubElement(case, "skipped", {"message": _xml_safe(str(sc["skipped"]))})
            continue
        error = str(sc.get("error") or "scenario failed (no error text)")
        fail = ET.SubElement(case, "failure", {"message": _xml_safe(_error_head(error)), "type": "ScenarioFailed"})
        tb = sc.get("traceback")
        fail.text = _xml_safe(error + (f"\n\n{tb}" if isinstance(tb, str) and tb else ""))
        diag = sc.get("diagnostics")
        out = ET.SubElement(case, "system-out")
        if diag:
            out.text = _xml_safe(json.dumps(_jsonable(diag), indent=2, sort_keys=True, allow_nan=False,
                                            ensure_ascii=False))
        else:
            out.text = "no diagnostic bundle collected"
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def write_junit(result: Result, path: Path | str) -> Path:
    """Write the JUnit XML report, atomically."""
    return _atomic_write(path, to_junit(result))


# ---------------------------------------------------------------------------------------------
# HTML


_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans",
       sans-serif; color: #222; background: #f5f6f8; }
h1 { font-size: 24px; margin: 0 0 6px; display: flex; align-items: center; gap: 14px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d8dbe0; }
h3 { font-size: 15px; margin: 18px 0 6px; }
h4 { font-size: 13px; margin: 12px 0 2px; }
.badge { display: inline-block; padding: 3px 12px; border-radius: 4px; color: #fff; font-weight: 700;
         font-size: 14px; letter-spacing: .04em; }
.pass { background: #2e7d32; } .fail { background: #c62828; }
td.pass, td.fail, td.skip { background: none; font-weight: 700; }
td.pass { color: #2e7d32; } td.fail { color: #c62828; } td.skip { color: #757575; }
.meta { color: #555; margin: 2px 0; }
code, pre { font: 12px/1.4 "DejaVu Sans Mono", ui-monospace, monospace; }
pre { background: #fff; border: 1px solid #dde0e4; border-radius: 4px; padding: 8px 10px; overflow-x: auto;
      white-space: pre-wrap; word-break: break-word; margin: 6px 0; max-height: 480px; overflow-y: auto; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 10px; }
th, td { border: 1px solid #dde0e4; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eceef2; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.err { max-width: 640px; white-space: pre-wrap; word-break: break-word; color: #8a1c1c; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
.plots > * { background: #fff; border: 1px solid #dde0e4; border-radius: 4px; padding: 6px; }
svg.plot { width: 100%; height: auto; display: block; }
.nodata { min-height: 120px; display: flex; flex-direction: column; justify-content: center; align-items: center; }
.nodata p { color: #888; margin: 4px 0 0; font-style: italic; }
.plot-title { font-weight: 600; font-size: 14px; }
details { background: #fff; border: 1px solid #dde0e4; border-radius: 4px; padding: 6px 10px; margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
.none { color: #888; font-style: italic; }
"""


def _table(head: Sequence[str], rows: Iterable[Sequence[tuple[str, str]]], empty: str = "no data") -> str:
    """rows: cells as (html, css class)."""
    body = ["<tr>" + "".join(f'<td class="{cls}">{cell}</td>' if cls else f"<td>{cell}</td>" for cell, cls in row)
            + "</tr>" for row in rows]
    if not body:
        return f'<p class="none">{_e(empty)}</p>'
    return ("<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def _result_cell(passed: Any, skipped: Any = None) -> tuple[str, str]:
    if passed and skipped:
        return ("SKIP", "skip")
    return ("PASS", "pass") if passed else ("FAIL", "fail")


def _html_header(result: Result) -> list[str]:
    scenarios = _scenarios(result)
    n_fail = sum(1 for s in scenarios if not s.get("passed"))
    cls, word = ("pass", "PASS") if result.get("passed") else ("fail", "FAIL")
    out = [f'<h1>EdgeCall HIL report <span class="badge {cls}" id="verdict">{word}</span></h1>',
           f'<p class="meta">{len(scenarios) - n_fail} of {len(scenarios)} scenarios passed'
           f' · started {_e(result.get("started") or "n/a")} · duration {_fmt(result.get("duration_s"), 1, " s")}'
           f' · {_e(result.get("tool") or "edgecall hil")} {_e(result.get("version") or "")}</p>']
    if result.get("command"):
        out.append(f'<p class="meta">command: <code>{_e(result["command"])}</code></p>')
    devices = [d for d in _l(result.get("devices")) if isinstance(d, Mapping)]
    out.append("<h2>Devices</h2>")
    out.append(_table(["id", "kind", "machine", "port", "firmware", "MicroPython", "uid"],
                      ([(_e(d.get(k, "")), "") for k in ("id", "kind", "machine", "port", "version", "micropython", "uid")]
                       for d in devices),
                      "no devices recorded"))
    return out


def _html_scenarios(result: Result) -> list[str]:
    rows = []
    for sc in _scenarios(result):
        rows.append([(_e(sc.get("name", "?")), ""), _result_cell(sc.get("passed"), sc.get("skipped")),
                     (_fmt(sc.get("duration_s"), 1, " s"), "num"), (_e(", ".join(map(str, _l(sc.get("devices"))))), ""),
                     (_e(sc.get("error") or sc.get("skipped") or ""), "err")])
    return ["<h2>Scenarios</h2>", _table(["scenario", "result", "duration", "devices", "error"], rows,
                                         "no scenarios ran")]


def _html_metrics(result: Result) -> list[str]:
    m = _d(result.get("metrics"))
    out = ["<h2>Metrics</h2>"]
    rows = []
    for key, label in (("join_ms", "join time"), ("first_audio_ms", "first audio")):
        q = _d(m.get(key))
        rows.append([(_e(label), ""), (_fmt(q.get("p50"), 0, " ms"), "num"), (_fmt(q.get("p95"), 0, " ms"), "num"),
                     (str(len(_l(q.get("samples")))), "num")])
    out.append(_table(["metric", "p50", "p95", "samples"], rows))
    prof_rows = []
    pesq, net, stoi, ok = (_d(m.get(k)) for k in ("pesq_wb", "netstack_pesq_wb", "stoi", "call_success"))
    codec, speech = _d(m.get("codec")), _d(m.get("speech"))
    for p in _profiles(m):
        avail = _num(ok.get(p))
        sp = _d(speech.get(p))
        scored = (f"{_fmt(sp.get('speech_s'), 1, ' s')} × {_fmt(_d(sp.get('pesq_wb')).get('n'), 0)}"
                  if _num(sp.get("speech_s")) is not None else "n/a")
        prof_rows.append([(_e(p), ""), (_e(codec.get(p, "")), ""),
                          (_e(_with_range(pesq.get(p), _d(sp.get("pesq_wb")), 2)), "num"),
                          (_e(_with_range(net.get(p), _d(sp.get("netstack_pesq_wb")), 2)), "num"),
                          (_e(_with_range(stoi.get(p), _d(sp.get("stoi")), 3)), "num"),
                          (_e(_mouth_to_ear(_d(sp.get("mouth_to_ear_ms")))), "num"),
                          (_e(scored), "num"), (_e(", ".join(map(str, _l(sp.get("seeds"))))), "num"),
                          (_fmt(avail * 100 if avail is not None else None, 1, " %"), "num")])
    out.append("<h3>Per network profile</h3>")
    out.append("<p>Speech figures: the median over the seeds' calls and both directions, (min-max) beside it; "
               "mouth-to-ear: median / max over the same; speech scored: the shortest scored clip × the number of "
               "directions scored.</p>")
    out.append(_table(["profile", "codec", "PESQ-WB", "netstack PESQ-WB", "STOI", "mouth-to-ear", "speech scored",
                       "seeds", "availability"], prof_rows, "no per-profile metrics"))
    video = _d(m.get("video"))
    if video:
        out.append("<h3>Video</h3>")
        out.append(_table(["profile", "frames shown / s", "median PSNR", "min PSNR", "shown", "sent", "dropped"],
                          ([(_e(p), ""), (_fmt(_d(v).get("fps"), 1), "num"),
                            (_fmt(_d(v).get("psnr_db"), 1, " dB"), "num"), (_fmt(_d(v).get("psnr_min_db"), 1, " dB"), "num"),
                            (_fmt(_d(v).get("frames_shown"), 0), "num"), (_fmt(_d(v).get("frames_sent"), 0), "num"),
                            (_fmt(_d(v).get("dropped"), 0), "num")] for p, v in video.items())))
    shown = {"join_ms", "first_audio_ms", "pesq_wb", "netstack_pesq_wb", "stoi", "call_success", "video", "codec",
             "speech"}
    other = [(k, v) for k, v in _flat_metrics({k: v for k, v in m.items() if k not in shown})]
    if other:
        out.append("<h3>Other metrics</h3>")
        out.append(_table(["metric", "value"], ([(_e(k), ""), (_e(_fmt_value(v)), "num")] for k, v in other)))
    return out


def _heap_series(result: Result) -> dict[str, list[tuple[float, float]]]:
    """Heap use per device in KiB over seconds; from series.heap, else the failed scenarios' bundles."""
    out: dict[str, list[tuple[float, float]]] = {}
    for dev, pts in _d(_d(result.get("series")).get("heap")).items():
        out[str(dev)] = [(float(p[0]), float(p[1]) / 1024) for p in _l(pts)
                         if isinstance(p, (list, tuple)) and len(p) >= 2 and _num(p[0]) is not None
                         and _num(p[1]) is not None]
    if not any(out.values()):
        for sc in _scenarios(result):
            for dev, bundle in _d(sc.get("diagnostics")).items():
                pts = [(float(p[0]) / 1000, float(p[1]) / 1024) for p in _l(_d(bundle).get("heap_history"))
                       if isinstance(p, (list, tuple)) and len(p) >= 2 and _num(p[0]) is not None
                       and _num(p[1]) is not None]
                if pts:
                    out[f"{dev} ({sc.get('name')})"] = pts
    return out


def _html_plots(result: Result) -> list[str]:
    m = _d(result.get("metrics"))
    join = _d(m.get("join_ms"))
    plots = [svgplot.histogram("Join time distribution", [v for v in _l(join.get("samples")) if _num(v) is not None],
                               "join time (ms)", markers=[(q, v) for q in ("p50", "p95")
                                                          if (v := _num(join.get(q))) is not None])]
    pesq, net = _d(m.get("pesq_wb")), _d(m.get("netstack_pesq_wb"))
    profiles = [str(p) for p in dict.fromkeys([*pesq, *net])]
    groups: list[tuple[str, Sequence[float | None]]] = [("HIL call", [_num(pesq.get(p)) for p in profiles])]
    if net:
        groups.append(("netstack bench", [_num(net.get(p)) for p in profiles]))
    plots.append(svgplot.bar_chart("PESQ-WB per network profile", profiles, groups, "PESQ-WB (MOS-LQO)",
                                   x_label="network profile", y_max=4.5))
    jb = _d(_d(result.get("series")).get("jb"))

    def jb_lines(field: str) -> list[svgplot.Line]:
        lines = []
        for prof, rows in jb.items():
            pts = [(t, v) for r in _l(rows) if isinstance(r, Mapping)
                   if (t := _num(r.get("t_s"))) is not None and (v := _num(r.get(field))) is not None]
            lines.append(svgplot.Line(str(prof), pts))
        return lines

    plots.append(svgplot.line_chart("Jitter-buffer delay per profile", jb_lines("delay_ms"), "time (s)",
                                    "delay (ms)"))
    plots.append(svgplot.line_chart("Packet loss per profile", jb_lines("loss_pct"), "time (s)", "loss (%)"))
    heap = _heap_series(result)
    plots.append(svgplot.line_chart("Heap in use per device", [svgplot.Line(k, v) for k, v in heap.items()],
                                    "time (s)", "heap (KiB)"))
    return ["<h2>Plots</h2>", '<div class="plots">', *plots, "</div>"]


def _html_bundle(bundle: Any) -> list[str]:
    b = _d(bundle)
    out: list[str] = []
    info = _d(b.get("info"))
    if info:
        out.append(_table(["info", "value"], ([(_e(k), ""), (_e(v), "")] for k, v in info.items())))
    stats = b.get("call_stats")
    if stats:
        out.append("<h4>call stats</h4><pre>" + _e(json.dumps(_jsonable(stats), indent=2, sort_keys=True)) + "</pre>")
    heap = _l(b.get("heap_history"))
    if heap:
        lines = [f"{_fmt(p[0], 0):>9} ms {_fmt(p[1], 0):>9} B" if isinstance(p, (list, tuple)) and len(p) >= 2
                 else str(p) for p in heap]
        out.append(f"<h4>heap history ({len(heap)} samples)</h4><pre>" + _e("\n".join(lines)) + "</pre>")
    for key, title in (("log", "device log"), ("transcript", "serial transcript")):
        lines = _log_lines(b.get(key)) if key == "log" else [str(x) for x in _l(b.get(key))]
        if not lines:
            continue
        note = ""
        if len(lines) > _LOG_LINES_MAX:
            note = f"… {len(lines) - _LOG_LINES_MAX} earlier lines left out (all of them are in the JSON report)\n"
            lines = lines[-_LOG_LINES_MAX:]
        out.append(f"<h4>{title} ({len(lines)} lines)</h4><pre>" + _e(note + "\n".join(lines)) + "</pre>")
    known = {"info", "call_stats", "heap_history", "log", "transcript"}
    rest = {k: v for k, v in b.items() if k not in known}
    if rest or (bundle is not None and not isinstance(bundle, Mapping)):
        out.append("<h4>other</h4><pre>" + _e(json.dumps(_jsonable(rest or bundle), indent=2, sort_keys=True,
                                                           default=str)) + "</pre>")
    return out or ['<p class="none">empty bundle</p>']


def _html_failures(result: Result) -> list[str]:
    failed = [s for s in _scenarios(result) if not s.get("passed")]
    if not failed:
        return []
    out = ["<h2>Failed scenarios</h2>"]
    for sc in failed:
        out.append(f'<h3 class="failed-scenario">{_e(sc.get("name", "?"))}</h3>')
        out.append("<pre>" + _e(sc.get("error") or "scenario failed (no error text)") + "</pre>")
        if isinstance(sc.get("traceback"), str) and sc["traceback"]:
            out.append("<details><summary>traceback</summary><pre>" + _e(sc["traceback"]) + "</pre></details>")
        metrics = _d(sc.get("metrics"))
        if metrics:
            out.append("<details><summary>scenario metrics</summary><pre>"
                       + _e(json.dumps(_jsonable(metrics), indent=2, sort_keys=True)) + "</pre></details>")
        diag = _d(sc.get("diagnostics"))
        if not diag:
            out.append('<p class="none">no diagnostic bundle collected</p>')
        for dev, bundle in diag.items():
            out.append(f'<details class="bundle"><summary>diagnostic bundle: {_e(dev)}</summary>')
            out.extend(_html_bundle(bundle))
            out.append("</details>")
    return out


def to_html(result: Result) -> str:
    """The report as one self-contained HTML page."""
    verdict = "PASS" if result.get("passed") else "FAIL"
    body = [*_html_header(result), *_html_scenarios(result), *_html_metrics(result), *_html_plots(result),
            *_html_failures(result)]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        # Nothing external and no script may run (an error text cannot smuggle one in either).
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>EdgeCall HIL report: {verdict}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
        "",
    ])


def write_html(result: Result, path: Path | str) -> Path:
    """Write the HTML report, atomically."""
    return _atomic_write(path, to_html(result).encode("utf-8", errors="replace"))


# ---------------------------------------------------------------------------------------------
# terminal


_KEY_METRICS = ("pesq_wb", "join_ms", "first_audio_ms", "call_success", "availability", "fps", "stoi", "p99_ms",
                "p50_ms", "join_p95_ms", "rejoined_after_s", "callee_back_after_s", "renewals")


def _key_metric(metrics: Mapping[str, Any]) -> str:
    def show(name: str, v: Any) -> str | None:
        if _num(v) is not None:
            return f"{name} {_fmt_value(v)}"
        if isinstance(v, Mapping):
            if _num(v.get("p50")) is not None:
                return f"{name} p50 {_fmt_value(v['p50'])}"
            for k in sorted(v, key=str):
                if _num(v[k]) is not None:
                    return f"{name}.{k} {_fmt_value(v[k])}"
        return None

    for name in [*_KEY_METRICS, *sorted(k for k in metrics if k not in _KEY_METRICS)]:
        if name in metrics and (text := show(name, metrics[name])):
            return text
    return ""


def _per_profile(values: Mapping[str, Any], digits: int, scale: float = 1.0, unit: str = "",
                 beside: Mapping[str, Any] | None = None, beside_label: str = "") -> str:
    parts = []
    for p, v in values.items():
        n = _num(v)
        text = f"{p} {_fmt(n * scale if n is not None else v, digits, unit)}"
        if beside is not None and p in beside:
            text += f" ({beside_label} {_fmt(beside[p], digits, unit)})"
        parts.append(text)
    return ", ".join(parts) or "n/a"


def _per_profile_range(values: Mapping[str, Any], speech: Mapping[str, Any], key: str, digits: int,
                       beside: Mapping[str, Any] | None = None, beside_label: str = "") -> str:
    """"profile median (min-max)" per profile, the `beside` figure after it."""
    parts = []
    for p, v in values.items():
        text = f"{p} {_with_range(v, _d(_d(speech.get(p)).get(key)), digits)}"
        if beside is not None and p in beside:
            text += f" ({beside_label} {_fmt(beside[p], digits)})"
        parts.append(text)
    return ", ".join(parts) or "n/a"


def summary_table(result: Result) -> str:
    """Plain-text summary for the terminal: one row per scenario, then the run's metrics."""
    scenarios = _scenarios(result)
    rows = [("scenario", "result", "duration", "key metric")]
    errors: dict[int, str] = {}
    for i, sc in enumerate(scenarios):
        rows.append((str(sc.get("name", "?")), ("SKIP" if sc.get("skipped") else "PASS") if sc.get("passed") else "FAIL",
                     _fmt(sc.get("duration_s"), 1, " s"), _key_metric(_d(sc.get("metrics")))))
        if not sc.get("passed"):
            errors[i + 1] = _error_head(sc.get("error") or "scenario failed (no error text)", 160)
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = []
    for i, r in enumerate(rows):
        lines.append("  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2]), r[3]]).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths[:3]) + "  " + "-" * max(10, widths[3]))
        if i in errors:
            lines.append(f"    error: {errors[i]}")
    if not scenarios:
        lines.append("(no scenarios ran)")
    n_pass = sum(1 for s in scenarios if s.get("passed"))
    m = _d(result.get("metrics"))
    join, first, speech = _d(m.get("join_ms")), _d(m.get("first_audio_ms")), _d(m.get("speech"))
    lines += [
        "",
        f"HIL run: {'PASS' if result.get('passed') else 'FAIL'} ({n_pass}/{len(scenarios)} scenarios passed)"
        f" in {_fmt(result.get('duration_s'), 1, ' s')}",
        f"join time:    p50 {_fmt(join.get('p50'), 0, ' ms')}, p95 {_fmt(join.get('p95'), 0, ' ms')}"
        f" (n={len(_l(join.get('samples')))})",
        f"first audio:  p50 {_fmt(first.get('p50'), 0, ' ms')}, p95 {_fmt(first.get('p95'), 0, ' ms')}",
        "PESQ-WB:      " + _per_profile_range(_d(m.get("pesq_wb")), speech, "pesq_wb", 2,
                                           beside=_d(m.get("netstack_pesq_wb")), beside_label="netstack"),
        f"STOI:         {_per_profile_range(_d(m.get('stoi')), speech, 'stoi', 3)}",
        "mouth-to-ear: " + (", ".join(f"{p} {_mouth_to_ear(_d(_d(v).get('mouth_to_ear_ms')))}" for p, v in speech.items())
                            or "n/a") + (" (median / max)" if speech else ""),
        f"availability: {_per_profile(_d(m.get('call_success')), 1, 100.0, ' %')}",
    ]
    for p, v in _d(m.get("video")).items():
        lines.append(f"video:        {p} {_fmt(_d(v).get('fps'), 1)} frames/s shown,"
                     f" median PSNR {_fmt(_d(v).get('psnr_db'), 1, ' dB')}")
    serial = _d(m.get("serial"))
    if serial:
        lines.append(f"serial:       {_fmt(serial.get('requests'), 0)} requests,"
                     f" p50 {_fmt(serial.get('p50_ms'), 1, ' ms')}, p99 {_fmt(serial.get('p99_ms'), 1, ' ms')},"
                     f" lost {_fmt(serial.get('lost'), 0)},"
                     f" mismatched {_fmt(serial.get('mismatched'), 0)}")
    return "\n".join(lines) + "\n"
