"""The "Model cards & scores" tab: every model's evaluation results, as a table and one metric as a chart.

Results come from a folder's `eval_results.json`, else its model card's `model-index` (read when the
model is loaded, see :meth:`~hf_embeddings.demo.models.DemoModel.reload_results`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pandas as pd

from .models import DemoInputError, DemoModel


def score_table(models: Sequence[DemoModel]) -> pd.DataFrame:
    """Every model's evaluation results: eval_results.json when present, else the card's model-index."""
    from ..hub.card import evaluation_rows

    rows = []
    for dm in models:
        if dm.eval_results:
            for r in evaluation_rows(dm.eval_results):
                rows.append(
                    (
                        dm.name,
                        r["dataset_name"],
                        r["metric_name"],
                        r["value"],
                        r["details"],
                        "eval_results.json",
                    )
                )
        else:
            for r in dm.card_results:
                rows.append((dm.name, r["dataset"], r["metric"], r["value"], "", "README model-index"))
    frame = pd.DataFrame(rows, columns=["model", "dataset", "metric", "value", "details", "source"])
    frame["value"] = frame["value"].astype(float).round(4)
    return frame


def reload_scores(models: Sequence[DemoModel]) -> pd.DataFrame:
    """`score_table` after re-reading every model folder's results."""
    for dm in models:
        dm.reload_results()
    return score_table(models)


def metric_labels(table: pd.DataFrame) -> list[str]:
    """'dataset · metric' labels of the measured results, those most models have first."""
    labels = (table["dataset"] + " · " + table["metric"])[table["value"].notna()]
    counts = labels.value_counts(sort=False)
    return sorted(dict.fromkeys(labels), key=lambda label: -counts[label])


def score_chart(models: Sequence[DemoModel], label: str | None) -> pd.DataFrame:
    """(model, value) of one 'dataset · metric' across the models, for the bar chart."""
    table = score_table(models)
    labels = metric_labels(table)
    if not labels:
        return pd.DataFrame({"model": [], "value": []})
    if label not in labels:
        if label:
            raise DemoInputError(f"No result called {label!r} (available: {', '.join(labels)}).")
        label = labels[0]
    rows = table[(table["dataset"] + " · " + table["metric"]) == label]
    return rows[["model", "value"]].dropna().reset_index(drop=True)


def bar_limits(values: Sequence[float]) -> list[float | None]:
    """y-axis limits that put a bar chart's baseline at 0 (None: let the chart pick that end).

    Without them a chart of one value (one model's perplexity) scales its axis to that value alone and
    draws no bar; negative values (a correlation below 0) keep their own end.
    """
    finite = [float(v) for v in values if pd.notna(v)]
    low = min([0.0, *finite])
    return [low, None if any(v > 0 for v in finite) else 0.0]


#: where Gradio serves a file it was allowed to (relative: works under any mount path of the app)
FILE_ROUTE = "gradio_api/file="
_LINK = re.compile(r"(!?\[[^\]]*\]\(\s*<?)([^)\s>]+)|(<img\b[^>]*?\bsrc=[\"'])([^\"']+)")


def card_markdown(dm: DemoModel) -> tuple[str, list[Path]]:
    """The model card's text with its links to files of the model folder (the loss curve) pointed at
    Gradio's file route, and those files, which the app must allow (`gr.set_static_paths`).

    The card is written for the Hub, where `loss_curve.svg` is a file beside it; in the app the page sits
    elsewhere, so a relative link would ask the server for a file it does not have (a 404, a broken
    image). Only files inside the model's folder are served, nothing the card does not name.
    """
    text = dm.card_text or ""
    folder = dm.folder.resolve() if dm.folder is not None else None
    served: list[Path] = []

    def rewrite(match: re.Match) -> str:
        prefix, target = (
            (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        )
        parts = urlsplit(target)
        if folder is None or parts.scheme or parts.netloc or target.startswith(("/", "#")):
            return match.group(0)
        path = (folder / unquote(parts.path)).resolve()
        if not path.is_file() or not path.is_relative_to(folder):
            return match.group(0)
        served.append(path)
        return prefix + FILE_ROUTE + quote(str(path))

    return _LINK.sub(rewrite, text), list(dict.fromkeys(served))
