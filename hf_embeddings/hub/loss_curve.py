"""The training-loss curve of a saved model as a small, dependency-free SVG line chart.

Written next to the weights at the end of training (from `training_log.json`) and shown in the model card.
Only numbers found in the log are drawn: no smoothing, no extrapolation.
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path

from ..files import write_text_atomic

LOSS_CURVE_FILE = "loss_curve.svg"


def loss_series(log: dict) -> tuple[str, str, list[tuple[float, float]]]:
    """(x label, y label, points) of the most detailed loss series of a training log; no points if none.

    Step losses (`loss`, logged every `logging_steps`) are used when there are at least two of them, else the
    per-epoch losses (`epoch_loss_per_item` or `epoch_mean_batch_loss`, our EmbeddingTrainer's, or
    `epoch_loss`).
    """
    history = log.get("log_history") or []
    steps = [(float(e["step"]), float(e["loss"])) for e in history if _finite(e.get("loss")) and "step" in e]
    if len(steps) >= 2:
        return "step", "training loss", steps
    epochs = log.get("epochs") or [e for e in history if "epoch_loss" in e]
    for key, label in (
        ("epoch_loss_per_item", "loss per training example"),
        ("epoch_mean_batch_loss", "mean batch loss"),
        ("epoch_loss", "epoch loss (sum)"),
    ):
        points = [
            (float(e.get("epoch", i + 1)), float(e[key])) for i, e in enumerate(epochs) if _finite(e.get(key))
        ]
        if points:
            return "epoch", label, points
    return "step", "training loss", steps


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [lo, hi]."""
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.2g}"
    return f"{v:.6g}"


def render_svg(
    points: list[tuple[float, float]],
    *,
    x_label: str,
    y_label: str,
    title: str,
    width: int = 640,
    height: int = 320,
) -> str:
    """A standalone SVG line chart of `points` (x ascending) with axes, ticks and labels."""
    if not points:
        raise ValueError("no points to draw")
    left, right, top, bottom = 70, 20, 36, 48
    pw, ph = width - left - right, height - top - bottom
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    xt, yt = _nice_ticks(min(xs), max(xs)), _nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for t in yt:
        y = sy(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for t in xt:
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/>')
    coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    out.append(f'<polyline points="{coords}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    if len(points) <= 50:
        out.extend(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="#1f77b4"/>' for x, y in points)
    out.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 10}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(
        f'<text x="16" y="{top + ph / 2:.1f}" text-anchor="middle" transform="rotate(-90 16 {top + ph / 2:.1f})">'
        f"{escape(y_label)}</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_loss_curve(log: dict, folder: str | os.PathLike, *, title: str = "Training loss") -> Path | None:
    """Write `loss_curve.svg` into `folder` from a training log; returns its path, or None if nothing was logged."""
    x_label, y_label, points = loss_series(log)
    if not points:
        return None
    path = Path(folder) / LOSS_CURVE_FILE
    write_text_atomic(path, render_svg(points, x_label=x_label, y_label=y_label, title=title))
    return path
