"""The Gradio demo (`hf-embeddings demo`, `spaces_demo/app.py`): query logic per tab, widgets in `ui`.

`models` (loading, capabilities, picking by name), `inputs` (input checks), `neighbours`, `projection`
(the map), `next_word`, `context`, `scores` and `examples` need no Gradio; `ui` (build_demo, launch,
main) needs the `demo` extra: `pip install 'hf-embeddings[demo]'`.
"""

from .models import DemoInputError, DemoModel, load_model, load_models, resolve_sources

__all__ = ["DemoInputError", "DemoModel", "load_model", "load_models", "resolve_sources"]
