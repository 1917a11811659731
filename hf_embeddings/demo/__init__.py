"""The Gradio demo (`hf-embeddings demo`, `spaces_demo/app.py`): query logic per tab, widgets in `ui`.

`models` (loading, capabilities, picking by name, corpus counts), `inputs` (input checks), `neighbours`,
`projection` (the map, drawn as SVG), `next_word`, `context`, `scores`, `examples` (placeholders from the
vocabularies) and `markdown` (escaping what users typed) need no Gradio; `ui` (build_demo, launch, main)
needs the `demo` extra: `pip install 'hf-embeddings[demo]'`.
"""

from .models import DemoInputError, DemoModel, load_model, load_models, resolve_sources

__all__ = ["DemoInputError", "DemoModel", "load_model", "load_models", "resolve_sources"]
