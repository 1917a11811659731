"""The main job: train small versions of every registered model on the bundled corpus and evaluate them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .api import train
from .models.family import discover_families, get_family


def run_quickstart(
    output_dir: str | os.PathLike = "outputs",
    *,
    corpus: str = "default",
    models: list[str] | None = None,
    device: str = "auto",
    show_progress: bool = True,
) -> dict:
    """Train every family (or `models`) with its quickstart settings; returns {name: eval results}.

    Each model lands in `output_dir/<name>` as a Hub-ready folder; a summary goes to
    `output_dir/summary.json`.
    """
    # families whose quickstart is marked opt_in (ELMo: minutes more on a CPU) run only when named
    names = models or sorted(n for n, f in discover_families().items() if not f.quickstart.get("opt_in"))
    families = [get_family(n) for n in names]  # unknown names fail before any training
    out = Path(output_dir)
    summary = {}
    for family in families:
        qs = family.quickstart
        print(f"== {family.name}: {family.description}", flush=True)
        result = train(
            family.name,
            corpus,
            out / family.name,
            config={**qs.get("config", {}), **({"min_count": qs["min_count"]} if "min_count" in qs else {})},
            training=qs.get("training"),
            device=device,
            evaluate=True,
            overwrite=True,
            show_progress=show_progress,
        )
        summary[family.name] = {
            "output_dir": str(result.output_dir),
            "train_seconds": round(result.train_seconds, 1),
            **result.eval_results,
        }
        print(json.dumps(summary[family.name], indent=2), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
