"""Hugging Face Space entry point (also runs locally): `python app.py [MODEL DIRS or REPO IDS]`.

The app itself lives in the package (`hf_embeddings.demo`), so `hf-embeddings demo` and this Space serve
the same thing; this file only finds the package and hands over. Models: the arguments, else the
HF_EMBEDDINGS_DEMO_MODELS variable (set it in the Space's settings), else ./outputs from
`hf-embeddings quickstart`.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import hf_embeddings  # noqa: F401  (installed by requirements.txt on a Space)
except ImportError:  # run from a source checkout without installing: use the package beside this folder
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio as gr  # noqa: E402

from hf_embeddings.demo.ui import build_demo, main  # noqa: E402


def build(models: list[str] | None = None) -> gr.Blocks:
    """The demo app over `models` (folders or Hub ids; None: the environment variable or ./outputs)."""
    return build_demo(models)


if __name__ == "__main__":
    sys.exit(main())
