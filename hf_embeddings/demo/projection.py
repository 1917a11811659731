"""The "Map" tab: typed words and their nearest neighbours projected to 2-D (PCA, t-SNE or UMAP)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .inputs import MAX_NEIGHBOURS_PER_WORD, bounded, parse_words
from .models import DemoInputError, DemoModel, pick


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
) -> tuple[pd.DataFrame, str]:
    """Points (x, y, word, group) of the typed words and their nearest neighbours, in 2-D.

    Each typed word is a group holding itself and its neighbours; a word already placed keeps its first
    group. Vectors are unit-normalised first, so distances on the map reflect cosine similarity.
    """
    (dm,) = pick(models, [name] if name else [], "is_static")
    words = parse_words(text, what="one or more words")
    n_neighbours = bounded(n_neighbours, 0, MAX_NEIGHBOURS_PER_WORD, "The number of neighbours")
    known, problems = dm.resolve(words)
    if not known:
        raise DemoInputError("; ".join(problems))
    points: dict[str, str] = {}
    for word in known:
        points.setdefault(word, word)
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
    return frame, "\n".join(f"- {p}" for p in problems)
