"""The "Map" tab: typed words and their nearest neighbours projected to 2-D (PCA, t-SNE or UMAP), drawn
as a labelled SVG."""

from __future__ import annotations

import html
import importlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .inputs import MAX_NEIGHBOURS_PER_WORD, bounded, parse_words
from .models import DemoInputError, DemoModel, count_note, pick, unknown_words_message


def available_projections() -> list[str]:
    """PCA always; t-SNE with scikit-learn, UMAP with umap-learn when they are installed."""
    methods = ["PCA"]
    for method, module in (("t-SNE", "sklearn.manifold"), ("UMAP", "umap")):
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        methods.append(method)
    return methods


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """First two principal components (numpy SVD), signs fixed so the result is reproducible."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    y = x @ (components * signs[:, None]).T
    if y.shape[1] < 2:  # one dimension (or one point): pad so the plot still has x and y
        y = np.hstack([y, np.zeros((len(y), 2 - y.shape[1]))])
    return y


def project(vectors: np.ndarray, method: str = "PCA", seed: int = 0) -> np.ndarray:
    """(n, d) -> (n, 2) with PCA, t-SNE or UMAP."""
    n = len(vectors)
    if method == "PCA":
        return pca_2d(vectors)
    if method not in available_projections():
        raise DemoInputError(
            f"Projection {method!r} is not available here (available: {', '.join(available_projections())})."
        )
    if n < 4:
        raise DemoInputError(f"{method} needs at least 4 points; add words or neighbours, or use PCA.")
    if method == "t-SNE":
        from sklearn.manifold import TSNE

        return TSNE(
            n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed
        ).fit_transform(vectors)
    import umap

    return umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), random_state=seed).fit_transform(vectors)


def word_map(
    models: Sequence[DemoModel], name: str, text: str, n_neighbours: int = 8, method: str = "PCA"
) -> tuple[pd.DataFrame, list[str]]:
    """Points (x, y, word, group, typed[, count]) of the typed words and their nearest neighbours, in 2-D.

    Each typed word is a group holding itself and its neighbours; a neighbour already placed keeps its
    first group. Vectors are unit-normalised first, so distances on the map reflect cosine similarity.
    """
    (dm,) = pick(models, [name] if name else [], "is_static")
    words = parse_words(text, what="one or more words")
    n_neighbours = bounded(n_neighbours, 0, MAX_NEIGHBOURS_PER_WORD, "The number of neighbours")
    known, unknown = dm.resolve(words)
    problems = unknown_words_message({w: [dm] for w in unknown}, 1)
    if not known:
        raise DemoInputError(" ".join(problems))
    points = {word: word for word in known}  # each typed word leads its own group, even if near another
    for word in known:
        if n_neighbours:
            for neighbour, _ in dm.model.wv.most_similar(word, topn=n_neighbours):
                points.setdefault(neighbour, word)
    if len(points) < 2:
        raise DemoInputError("A map needs at least two points: add a word or some neighbours.")
    vectors = np.stack([dm.model.wv.get_word_vector(w, norm=True) for w in points])
    xy = project(vectors, method)
    frame = pd.DataFrame(
        {
            "x": np.round(xy[:, 0], 5),
            "y": np.round(xy[:, 1], 5),
            "word": list(points),
            "group": list(points.values()),
            "typed": [w == g for w, g in points.items()],
        }
    )
    if dm.has_counts:
        frame["count"] = [dm.count(w) for w in points]
    counts = count_note([dm], known)
    return frame, [*problems, counts] if counts else problems


def draw_map(
    models: Sequence[DemoModel], name: str, text: str, n_neighbours: int = 8, method: str = "PCA"
) -> tuple[str, pd.DataFrame, list[str]]:
    """`word_map` drawn: (SVG of the labelled points, the points table, notes)."""
    frame, notes = word_map(models, name, text, n_neighbours, method)
    return map_svg(frame, method), frame, notes


# Tableau 10 and two more: distinct on light and dark backgrounds, one colour per typed word (<= MAX_WORDS)
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#7f7f7f", "#17becf", "#bcbd22")  # fmt: skip
_WIDTH, _HEIGHT, _PAD = 900, 560, 14
_TEXT = 'style="fill: var(--body-text-color, #1f2937)"'


def _esc(text: object) -> str:
    """Text for SVG markup: HTML-escaped, and no '$' or braces that Gradio's HTML template could read."""
    return html.escape(str(text)).replace("$", "&#36;").replace("{", "&#123;").replace("}", "&#125;")


def _text_width(text: str, size: float) -> float:
    return 0.6 * size * len(text) + 2  # a generous average glyph width: estimates err on the wide side


def map_svg(frame: pd.DataFrame, method: str = "PCA") -> str:
    """The map as a self-contained SVG: every point labelled with its word where the label has room
    (typed words always), coloured by group, a legend beside the plot, and margins so that no point or
    label at the edge is cut off. Every word is also in its point's tooltip (with its corpus count).

    Drawn on the server as plain markup: a redraw replaces the whole picture, and no chart library's
    layout can clip the legend or the points.
    """
    groups = list(dict.fromkeys(frame["group"]))
    colour = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    legend_w = 40 + max(_text_width(g, 13) for g in groups)
    legend_w = min(legend_w, 220)
    left, top, right, bottom = _PAD, _PAD, _WIDTH - legend_w - _PAD, _HEIGHT - 30
    # one scale for both axes (distances stay comparable), the widest label's room kept on either side
    room = min(90.0, max(_text_width(w, 12) for w in frame["word"]) / 2 + 10)
    xs, ys = frame["x"].to_numpy(float), frame["y"].to_numpy(float)
    span = max(float(np.ptp(xs)) / (right - left - 2 * room), float(np.ptp(ys)) / (bottom - top - 40), 1e-12)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    px = cx + (xs - (xs.max() + xs.min()) / 2) / span
    py = cy - (ys - (ys.max() + ys.min()) / 2) / span
    has_count = "count" in frame

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" width="100%" '
        f'role="img" aria-label="{_esc(method)} map of {len(frame)} words" class="word-map" '
        'font-family="sans-serif">',
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" '
        'stroke="#9ca3af" stroke-opacity="0.5"/>',
        f'<text x="{(left + right) / 2}" y="{_HEIGHT - 10}" text-anchor="middle" font-size="12" {_TEXT}>'
        f"{_esc(method)} of the unit-normalised vectors: nearby points have similar vectors</text>",
    ]
    dots = [(float(a) - 5, float(b) - 5, float(a) + 5, float(b) + 5) for a, b in zip(px, py)]
    placed: list[tuple[float, float, float, float]] = []
    labels = []
    order = sorted(range(len(frame)), key=lambda i: not frame["typed"].iloc[i])  # typed words first
    for i in order:
        word, group, typed = frame["word"].iloc[i], frame["group"].iloc[i], bool(frame["typed"].iloc[i])
        size = 13 if typed else 11
        w, h = _text_width(word, size), size + 2
        x, y = float(px[i]), float(py[i])
        spots = [(x + 8, y + size / 3, "start"), (x - 8, y + size / 3, "end"),
                 (x, y - 9, "middle"), (x, y + size + 6, "middle")]  # fmt: skip
        others = [*placed, *dots[:i], *dots[i + 1 :]]  # no label over another label or point
        chosen = None
        for tx, ty, anchor in spots:
            x0 = tx if anchor == "start" else tx - w if anchor == "end" else tx - w / 2
            box = (x0, ty - size, x0 + w, ty - size + h)
            inside = left <= box[0] and box[2] <= right and top <= box[1] and box[3] <= bottom
            free = all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for b in others)
            if inside and (free or (typed and chosen is None)):
                chosen = (tx, ty, anchor, box)
                if free:
                    break
        if chosen is None and typed:  # a typed word is always labelled: squeezed inside the frame
            tx, ty = min(max(x + 8, left), right - w), min(max(y + size / 3, top + size), bottom - 2)
            chosen = (tx, ty, "start", (tx, ty - size, tx + w, ty - size + h))
        if chosen is not None:
            tx, ty, anchor, box = chosen
            placed.append(box)
            weight = ' font-weight="bold"' if typed else ""
            labels.append(
                f'<text class="label" x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}" font-size="{size}"'
                f"{weight} {_TEXT}>{_esc(word)}</text>"
            )
        count = frame["count"].iloc[i] if has_count else None
        about = ["typed" if typed else f"near {group}"] + (
            [f"seen {int(count):,} times"] if pd.notna(count) else []
        )
        out.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="{6 if typed else 4.5}" '
            f'fill="{colour[group]}" stroke="#ffffff" stroke-width="{1.5 if typed else 0.8}">'
            f"<title>{_esc(word)} ({_esc(', '.join(about))})</title></circle>"
        )
    out += labels
    lx = _WIDTH - legend_w
    out.append(f'<g class="legend"><text x="{lx}" y="{top + 12}" font-size="13" {_TEXT}>Typed word</text>')
    for k, g in enumerate(groups):
        y = top + 34 + 22 * k
        label = g if len(g) <= 22 else g[:21] + "\u2026"
        out.append(
            f'<circle cx="{lx + 7}" cy="{y - 4}" r="6" fill="{colour[g]}"/>'
            f'<text x="{lx + 20}" y="{y}" font-size="13" {_TEXT}>{_esc(label)}</text>'
        )
    out.append("</g></svg>")
    return "".join(out)
