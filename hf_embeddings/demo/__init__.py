"""The Gradio demo (`hf-embeddings demo`, `spaces_demo/app.py`): query logic in `core`, widgets in `ui`.

`core` needs no Gradio; `ui` (build_demo, launch, main) needs the `demo` extra: `pip install
'hf-embeddings[demo]'`.
"""

from .core import DemoInputError, DemoModel, load_model, load_models, resolve_sources

__all__ = ["DemoInputError", "DemoModel", "load_model", "load_models", "resolve_sources"]
