"""The "Model cards & scores" tab: every model's evaluation results, as a table and one metric as a chart.

Results come from a folder's `eval_results.json`, else its model card's `model-index` (read when the
model is loaded, see :meth:`~hf_embeddings.demo.models.DemoModel.reload_results`).
"""

from __future__ import annotations

from collections.abc import Sequence

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
