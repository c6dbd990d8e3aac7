"""Inline SVG charts drawn from the record conventions (see the common record shapes in
DESIGN.md): a chart exists only when its records do, and each is a self-contained <svg>
string, so the page needs no script or stylesheet from anywhere.

Two layers: drawing primitives (`hbar_chart`, `line_chart`, `heatmap`) that know nothing of
records, and builders (`build_charts`) that group records into bars, series and cells."""

from __future__ import annotations

import html
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from markupsafe import Markup

from harness.judgement import number  # re-exported: the report reads values as the verdicts do

MAX_BARS = 40
MAX_SERIES = 10
MAX_HEATMAPS = 24  # charts of one kind (one per workload) drawn at most
PALETTE = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#0a3069", "#6e7781", "#e16f24", "#116329")
FONT = 'font-family="system-ui,sans-serif" font-size="11"'


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _clip(text: str, n: int = 46) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def fmt(v: float) -> str:
    """A short human number: 3 significant digits, thousands separators for big ones."""
    if v is None:
        return "–"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 100000:
        return f"{v:.3g}" if a >= 1e9 else f"{v:,.0f}"
    if a >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def fmt_bytes(v: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(v) >= size:
            return f"{v / size:.3g} {unit}"
    return f"{v:.0f} B"


# ---------------------------------------------------------------- scales


@dataclass
class Scale:
    """Maps data values to pixels, linear or log10 (log when the data spans > 50x)."""

    lo: float
    hi: float
    px0: float
    px1: float
    log: bool

    @classmethod
    def fit(cls, values: list[float], px0: float, px1: float, force_log: bool | None = None, zero: bool = True) -> "Scale":
        pos = [v for v in values if v is not None and v > 0]
        vals = [v for v in values if v is not None]
        log = force_log if force_log is not None else bool(pos) and len(pos) == len(vals) and max(pos) / min(pos) > 50
        if log and pos:
            lo, hi = 10 ** math.floor(math.log10(min(pos))), 10 ** math.ceil(math.log10(max(pos)))
            if lo == hi:
                hi = lo * 10
            return cls(lo, hi, px0, px1, True)
        lo = min([0.0] + vals) if zero else min(vals or [0.0])
        hi = max(vals or [1.0])
        if hi <= lo:
            hi = lo + 1
        return cls(lo, hi * 1.05, px0, px1, False)

    def __call__(self, v: float) -> float:
        if self.log:
            v = max(v, self.lo)
            t = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            t = (v - self.lo) / (self.hi - self.lo)
        return self.px0 + t * (self.px1 - self.px0)

    def ticks(self) -> list[float]:
        if self.log:
            return [10.0 ** k for k in range(round(math.log10(self.lo)), round(math.log10(self.hi)) + 1)]
        step = 10 ** math.floor(math.log10((self.hi - self.lo) / 4 or 1))
        for mult in (1, 2, 5, 10):
            if (self.hi - self.lo) / (step * mult) <= 6:
                step *= mult
                break
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step) + 1)]


# ---------------------------------------------------------------- primitives


@dataclass
class Bar:
    label: str
    value: float
    lo: float | None = None
    hi: float | None = None
    colour: str = PALETTE[0]
    tip: str = ""


@dataclass
class Series:
    label: str
    points: list[tuple[float, float, float | None, float | None]]  # x, y, y_lo, y_hi
    dashed: bool = False
    colour: str = PALETTE[0]


@dataclass
class Chart:
    """One finished chart: the SVG plus what the page says about it."""

    title: str
    svg: Markup
    caption: str = ""
    claims: list[str] = field(default_factory=list)


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
                  f'role="img" aria-label="{_e(title)}" {FONT}><title>{_e(title)}</title>{"".join(body)}</svg>')


def hbar_chart(title: str, bars: list[Bar], unit: str, marks: list[tuple[float, str]] = (), tick_fmt=fmt,
               force_log: bool | None = None) -> Markup:
    """Horizontal bars with optional error bars (lo..hi) and vertical reference marks."""
    label_w, plot_w, row_h = 290, 460, 18
    top = 28 + 13 * len(marks)  # one line per mark label, so labels never overlap
    height = top + row_h * len(bars) + 24
    extent = [b.value for b in bars] + [b.hi for b in bars if b.hi] + [b.lo for b in bars if b.lo] + [m[0] for m in marks]
    sc = Scale.fit(extent, label_w, label_w + plot_w, force_log)
    out = [f'<text x="{label_w}" y="12" fill="#57606a">{_e(unit)}{" (log scale)" if sc.log else ""}</text>']
    for t in sc.ticks():
        x = sc(t)
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 20}" stroke="#eaeef2"/>'
                   f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" fill="#57606a">{_e(tick_fmt(t))}</text>')
    base = sc(sc.lo if sc.log else max(sc.lo, 0.0))
    for i, b in enumerate(bars):
        y = top + i * row_h
        x = sc(b.value)
        tip = _e(b.tip or f"{b.label}: {fmt(b.value)} {unit}")
        out.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{_e(_clip(b.label))}</text>'
                   f'<rect x="{min(base, x):.1f}" y="{y + 3}" width="{max(abs(x - base), 1):.1f}" height="{row_h - 6}" '
                   f'fill="{b.colour}" fill-opacity="0.8"><title>{tip}</title></rect>')
        if b.lo is not None and b.hi is not None:
            x0, x1, cy = sc(b.lo), sc(b.hi), y + row_h / 2
            out.append(f'<path d="M{x0:.1f} {cy - 4}v8M{x0:.1f} {cy}H{x1:.1f}M{x1:.1f} {cy - 4}v8" stroke="#1f2328" fill="none">'
                       f'<title>{tip} (range {_e(fmt(b.lo))} to {_e(fmt(b.hi))})</title></path>')
        out.append(f'<text x="{max(x, sc(b.hi or b.value)) + 4:.1f}" y="{y + 12}" fill="#57606a">{_e(tick_fmt(b.value))}</text>')
    for k, (value, text) in enumerate(marks):
        x, ty = sc(value), 26 + 13 * k
        right = x > label_w + plot_w * 0.7  # label to the left of a mark near the right edge, so it stays inside
        anchor = "end" if right else "start"
        out.append(f'<line x1="{x:.1f}" y1="{ty - 9}" x2="{x:.1f}" y2="{height - 20}" stroke="#cf222e" stroke-dasharray="4 3"/>'
                   f'<text x="{x - 3 if right else x + 3:.1f}" y="{ty}" fill="#cf222e" text-anchor="{anchor}">{_e(text)}</text>')
    return _svg(label_w + plot_w + 70, height, out, title)


def line_chart(title: str, series: list[Series], x_unit: str, y_unit: str, x_fmt=fmt) -> Markup:
    """Log-log lines with error bars; dashed series ran under emulation."""
    left, plot_w, top, plot_h, legend_w = 60, 420, 20, 220, 300
    xs = [p[0] for s in series for p in s.points]
    ys = [v for s in series for p in s.points for v in (p[1], p[2], p[3]) if v]
    sx = Scale.fit(xs, left, left + plot_w, force_log=min(xs) > 0)
    sy = Scale.fit(ys, top + plot_h, top, force_log=min(ys) > 0)
    out = [f'<text x="4" y="12" fill="#57606a">{_e(y_unit)} (log)</text>',
           f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h + 34}" text-anchor="middle" fill="#57606a">{_e(x_unit)} (log)</text>']
    for t in sx.ticks():
        out.append(f'<line x1="{sx(t):.1f}" y1="{top}" x2="{sx(t):.1f}" y2="{top + plot_h}" stroke="#eaeef2"/>'
                   f'<text x="{sx(t):.1f}" y="{top + plot_h + 14}" text-anchor="middle" fill="#57606a">{_e(x_fmt(t))}</text>')
    for t in sy.ticks():
        out.append(f'<line x1="{left}" y1="{sy(t):.1f}" x2="{left + plot_w}" y2="{sy(t):.1f}" stroke="#eaeef2"/>'
                   f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" text-anchor="end" fill="#57606a">{_e(fmt(t))}</text>')
    for i, s in enumerate(series):
        pts = sorted(s.points)
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        path = " ".join(f"{'M' if j == 0 else 'L'}{sx(x):.1f} {sy(y):.1f}" for j, (x, y, _, _) in enumerate(pts))
        out.append(f'<path d="{path}" stroke="{s.colour}" stroke-width="2" fill="none"{dash}><title>{_e(s.label)}</title></path>')
        for x, y, lo, hi in pts:
            tip = _e(f"{s.label}: {x_fmt(x)} → {fmt(y)} {y_unit}")
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{s.colour}"><title>{tip}</title></circle>')
            if lo and hi:
                out.append(f'<path d="M{sx(x):.1f} {sy(lo):.1f}V{sy(hi):.1f}" stroke="{s.colour}"/>')
        ly = top + 14 * i
        out.append(f'<line x1="{left + plot_w + 14}" y1="{ly + 6}" x2="{left + plot_w + 34}" y2="{ly + 6}" stroke="{s.colour}" '
                   f'stroke-width="2"{dash}/><text x="{left + plot_w + 38}" y="{ly + 10}">{_e(_clip(s.label))}</text>')
    return _svg(left + plot_w + legend_w, top + plot_h + 44, out, title)


def heatmap(title: str, rows: list[str], cols: list[str], cells: dict[tuple[str, str], tuple[str, str, str]]) -> Markup:
    """A grid of coloured cells; cells maps (row, col) to (text, colour, tooltip); absent = not run."""
    char_w = 6.6  # approximate width of one 11px character: columns and labels grow to fit their text
    label_w = int(max([60] + [min(len(r), 30) * char_w + 12 for r in rows]))
    cell_w = int(max([96] + [len(c) * char_w + 10 for c in cols]))
    cell_h, top = 26, 22
    out = []
    for j, c in enumerate(cols):
        out.append(f'<text x="{label_w + j * cell_w + cell_w / 2:.0f}" y="{top - 7}" text-anchor="middle">{_e(c)}</text>')
    for i, r in enumerate(rows):
        y = top + i * cell_h
        out.append(f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end">{_e(_clip(r, 30))}</text>')
        for j, c in enumerate(cols):
            x = label_w + j * cell_w
            text, colour, tip = cells.get((r, c), ("not run", "#f6f8fa", f"{r} on {c}: not run"))
            ink = "#1f2328" if colour in ("#f6f8fa", "#fff8c5") else "#ffffff"
            out.append(f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="3" fill="{colour}" stroke="#d0d7de">'
                       f'<title>{_e(tip)}</title></rect><text x="{x + cell_w / 2:.0f}" y="{y + 17}" text-anchor="middle" '
                       f'fill="{ink}">{_e(text)}</text>')
    return _svg(label_w + cell_w * max(len(cols), 1) + 10, top + cell_h * len(rows) + 6, out, title)


# ---------------------------------------------------------------- builders from records

GOOD, BAD, MIXED, UNSURE = "#1a7f37", "#cf222e", "#bf8700", "#fff8c5"
OUTCOME_COLOURS = {"denied": GOOD, "trapped": GOOD, "killed": MIXED, "escaped": BAD, "host-crashed": BAD, "inconclusive": UNSURE}
OUTCOME_RANK = ("escaped", "host-crashed", "killed", "inconclusive", "trapped", "denied")




def details_of(r: dict) -> dict:
    d = r.get("details")
    return d if isinstance(d, dict) else {}


def is_emulated(r: dict) -> bool:
    """Ran under qemu: `details.emulated`, or nested one level down as the forms' Outcome details are."""
    d = details_of(r)
    inner = d.get("details") if isinstance(d.get("details"), dict) else {}
    return bool(d.get("emulated") or inner.get("emulated"))


def _where(r: dict, *keys: str) -> str:
    return " · ".join(str(r[k]) for k in keys if r.get(k))


def _aggregate_bars(groups: dict[str, list[dict]], colour_of, unit: str) -> list[Bar]:
    """One bar per label: the median of its records, error bars from the extremes."""
    bars = []
    for label, recs in groups.items():
        vals = [v for v in (number(r.get("value")) for r in recs) if v is not None]
        if not vals:
            continue
        los = [number(details_of(r).get("min")) for r in recs]
        his = [number(details_of(r).get("max")) for r in recs]
        lo = min([x for x in los if x is not None] + ([min(vals)] if len(vals) > 1 else []), default=None)
        hi = max([x for x in his if x is not None] + ([max(vals)] if len(vals) > 1 else []), default=None)
        med = statistics.median(vals)
        tip = f"{label}: median {fmt(med)} {unit} over {len(vals)} record(s)" + (f", range {fmt(lo)} to {fmt(hi)}" if lo is not None else "")
        bars.append(Bar(label, med, lo, hi, colour_of(recs[0]), tip))
    return bars


def _cap(bars: list[Bar]) -> tuple[list[Bar], str]:
    """Too many bars: keep both ends (largest and smallest), where a claim is won or lost."""
    if len(bars) <= MAX_BARS:
        return bars, ""
    ranked = sorted(bars, key=lambda b: -b.value)
    kept = ranked[: MAX_BARS // 2] + ranked[-(MAX_BARS // 2):]
    return kept, (f" Showing the {MAX_BARS // 2} largest and {MAX_BARS // 2} smallest of {len(bars)} bars; "
                  "every record is in the downloadable JSON.")


def _colour_by(values: list[str]):
    index = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(sorted(set(values)))}
    return lambda key: index.get(key, PALETTE[0])


def _is_ratio(r: dict) -> bool:
    return r.get("unit") == "x" and ("_over_" in str(r.get("metric")) or "numerator" in details_of(r))


def ratio_charts(records: list[dict], rules: dict[str, tuple[str, dict]]) -> list[Chart]:
    """Ratio bars per ratio metric, error bars from min/max, the claim's threshold marked."""
    by_metric: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if _is_ratio(r) and number(r.get("value")) is not None:
            by_metric[r["metric"]].append(r)
    charts = []
    order = list(rules)
    for metric, recs in sorted(by_metric.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])):
        groups: dict[str, list[dict]] = defaultdict(list)
        for r in recs:
            groups[_where(r, "workload", "form", "runtime", "arch", "machine") or "(all)"].append(r)
        colour = _colour_by([str(r.get("workload")) for r in recs])
        bars, note = _cap(_aggregate_bars(groups, lambda r: colour(str(r.get("workload"))), "x"))
        bars.sort(key=lambda b: -b.value)
        claim_id, rule = rules.get(metric, (None, {}))
        marks = [(1.0, "1x (no difference)")]
        for key in ("claimed", "threshold"):
            if isinstance(rule.get(key), (int, float)) and rule[key] != 1:
                marks.append((float(rule[key]), f"{key} {fmt(rule[key])}x"))
        den = details_of(recs[0]).get("denominator") or {}
        num = details_of(recs[0]).get("numerator") or {}
        side = lambda d: " ".join(str(d[k]) for k in ("form", "runtime", "kind") if d.get(k)) or "?"  # noqa: E731
        how = f" Numerator: {side(num)} ({num.get('unit', '')}); denominator: {side(den)}." if num else ""
        charts.append(Chart(f"{metric} (ratio, x)", hbar_chart(metric, bars, "ratio (x); whiskers: spread over repeats", marks),
                            f"Median-based ratio per workload and form; whiskers span the ratio's min to max over repeats.{how}{note}",
                            [claim_id] if claim_id else []))
    return charts


def _cost_unit(unit: str) -> tuple[str, bool]:
    """A rate ("runs/s") becomes a cost ("s per run"): what one input costs, against its size."""
    if unit.endswith("/s"):
        what = unit[:-2].rstrip("s") or "unit"
        return f"seconds per {what}", True
    return unit, False


def cost_charts(records: list[dict]) -> list[Chart]:
    """Cost against input size per form, one chart per workload (metric `throughput`)."""
    by_workload: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("metric") == "throughput" and number(r.get("value")) and number(details_of(r).get("input_bytes")) is not None:
            by_workload[str(r.get("workload"))].append(r)
    charts = []
    for workload, recs in sorted(by_workload.items())[:MAX_HEATMAPS]:
        y_unit, invert = _cost_unit(str(recs[0].get("unit", "")))
        series_pts: dict[str, dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
        dashed: dict[str, bool] = {}
        for r in recs:
            label = _where(r, "form", "runtime", "arch", "machine") + (" (qemu)" if is_emulated(r) else "")
            series_pts[label][max(float(details_of(r)["input_bytes"]), 1.0)].append(r)
            dashed[label] = is_emulated(r)
        series = []
        for i, (label, pts) in enumerate(sorted(series_pts.items())[:MAX_SERIES]):
            points = []
            for x, rs in pts.items():
                v = statistics.median(float(r["value"]) for r in rs)
                lo, hi = number(details_of(rs[0]).get("min")), number(details_of(rs[0]).get("max"))
                if invert:
                    v, lo, hi = 1 / v, (1 / hi if hi else None), (1 / lo if lo else None)
                points.append((x, v, lo, hi))
            series.append(Series(label, points, dashed[label], PALETTE[i % len(PALETTE)]))
        more = len(series_pts) - len(series)
        note = f" {more} more series in the downloadable JSON." if more > 0 else ""
        charts.append(Chart(f"{workload}: cost against input size", line_chart(f"{workload} cost", series, "input size", y_unit, fmt_bytes),
                            f"Median {y_unit} per input size for each form/runtime/arch; bars span min to max; dashed lines ran under qemu "
                            f"(emulated, slower than native).{note}", sorted({r['claim'] for r in recs if r.get('claim')})))
    _note_more(charts, len(by_workload), "cost curves")
    return charts


def _note_more(charts: list[Chart], total: int, what: str) -> None:
    """Many workloads: the page keeps the first MAX_HEATMAPS charts of a kind and says so."""
    if total > len(charts) and charts:
        charts[-1].caption += f" {total - len(charts)} more workloads' {what} are not drawn; their records are in the downloadable JSON."


def size_chart(records: list[dict]) -> list[Chart]:
    """Image and artifact sizes on one log axis, so MB images and kB modules compare at a glance."""
    recs = [r for r in records if r.get("metric") in ("image_bytes", "artifact_bytes") and number(r.get("value"))]
    if not recs:
        return []
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(recs, key=lambda r: (r["metric"] != "image_bytes", str(r.get("workload")), str(details_of(r).get("kind")))):
        d = details_of(r)
        name = d.get("tag") or d.get("image") or r.get("workload") or ""
        label = " · ".join(str(x) for x in (name, d.get("kind") or r["metric"], d.get("language"), r.get("machine")) if x)
        groups[label].append(r)
    colour = _colour_by([str(details_of(r).get("kind")) for r in recs])
    bars, note = _cap(_aggregate_bars(groups, lambda r: colour(str(details_of(r).get("kind"))), "bytes"))
    kinds = ", ".join(sorted({str(details_of(r).get("kind")) for r in recs}))
    return [Chart("Image and artifact sizes", hbar_chart("sizes", bars, "bytes", tick_fmt=fmt_bytes, force_log=True),
                  f"Container images (image_bytes) and build artifacts (artifact_bytes), log scale; kinds: {kinds}.{note}",
                  sorted({r['claim'] for r in recs if r.get('claim')}))]


def measure_chart(records: list[dict], metric: str, title: str, label_keys: tuple[str, ...], caption: str) -> list[Chart]:
    """Plain bars (median, min..max whiskers) for a per-form measurement such as cold start or RSS."""
    recs = [r for r in records if r.get("metric") == metric and number(r.get("value")) is not None]
    if not recs:
        return []
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        extra = details_of(r).get("variant")
        groups[" · ".join(x for x in ([str(extra)] if extra else []) + [_where(r, *label_keys)] if x)].append(r)
    colour = _colour_by([str(r.get("form")) for r in recs])
    unit = str(recs[0].get("unit", ""))
    bars, note = _cap(_aggregate_bars(groups, lambda r: colour(str(r.get("form"))), unit))
    bars.sort(key=lambda b: b.value)
    return [Chart(title, hbar_chart(title, bars, unit), caption + note, sorted({r['claim'] for r in recs if r.get('claim')}))]


def parity_heatmaps(records: list[dict]) -> list[Chart]:
    """Runtime × arch per workload for `wasm_output_mismatch`: green = same output, red = differs."""
    by_workload: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("metric") == "wasm_output_mismatch" and number(r.get("value")) is not None:
            by_workload[str(r.get("workload"))].append(r)
    charts = []
    for workload, recs in sorted(by_workload.items())[:MAX_HEATMAPS]:
        cells_recs: dict[tuple[str, str], list[dict]] = defaultdict(list)
        emulated = set()
        for r in recs:
            col = str(r.get("arch")) + (f" @{r['machine']}" if r.get("machine") else "")
            cells_recs[(str(r.get("runtime")), col)].append(r)
            if is_emulated(r):
                emulated.add(col)
        rows = sorted({k[0] for k in cells_recs})
        cols = sorted({k[1] for k in cells_recs})
        cells = {}
        for key, rs in cells_recs.items():
            bad = sum(1 for r in rs if r["value"] >= 1)
            colour = BAD if bad else GOOD
            cells[key] = (f"{bad}/{len(rs)} differ", colour, f"{key[0]} on {key[1]}: {bad} of {len(rs)} runs differ"
                          + (" (under qemu)" if key[1] in emulated else ""))
        labels = [c + (" (qemu)" if c in emulated else "") for c in cols]
        cells = {(r, labels[cols.index(c)]): v for (r, c), v in cells.items()}
        charts.append(Chart(f"Parity: {workload}", heatmap(f"parity {workload}", rows, labels, cells),
                            "Runtime (rows) × architecture (columns): how many runs produced output different from the "
                            "reference; grey = not run here.", sorted({r['claim'] for r in recs if r.get('claim')})))
    _note_more(charts, len(by_workload), "parity maps")
    return charts


def probe_heatmap(records: list[dict]) -> list[Chart]:
    """Escape probes: probe × form/runtime, each cell the worst outcome seen."""
    recs = [r for r in records if r.get("metric") == "escape"]
    if not recs:
        return []
    worst: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in recs:
        worst[(str(details_of(r).get("probe") or r.get("test", "?").split("::")[-1]), _where(r, "form", "runtime", "arch", "machine"))].append(
            str(r.get("outcome") or "inconclusive"))
    rows = sorted({k[0] for k in worst})[:MAX_BARS]
    cols = sorted({k[1] for k in worst})
    cells = {}
    for key, outcomes in worst.items():
        top = min(outcomes, key=lambda o: OUTCOME_RANK.index(o) if o in OUTCOME_RANK else 3)
        cells[key] = (top, OUTCOME_COLOURS.get(top, UNSURE), f"{key[0]} on {key[1]}: " + ", ".join(sorted(set(outcomes))))
    return [Chart("Escape probes", heatmap("escape probes", rows, cols, cells),
                  "Probe (rows) × form/runtime (columns), worst outcome seen: denied/trapped = contained, killed = stopped by "
                  "the host, escaped/host-crashed = containment failed, inconclusive = no answer.",
                  sorted({r['claim'] for r in recs if r.get('claim')}))]


def build_charts(records: list[dict], claims: list[dict]) -> list[Chart]:
    """Every chart the records support, in reading order."""
    rules = {c["rule"].get("metric"): (c["id"], c["rule"]) for c in claims if isinstance(c.get("rule"), dict)}
    return [
        *ratio_charts(records, rules),
        *cost_charts(records),
        *measure_chart(records, "cold_start_s", "Cold start", ("form", "runtime", "arch", "machine"),
                       "Seconds from launch to first output per start-up variant (median; whiskers min to max)."),
        *measure_chart(records, "peak_rss_kb", "Peak memory (RSS)", ("workload", "form", "runtime", "arch", "machine"),
                       "Peak resident set size in KiB (median over runs)."),
        *size_chart(records),
        *parity_heatmaps(records),
        *probe_heatmap(records),
    ]
