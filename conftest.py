"""Root conftest: what `--doctest-modules` (pyproject `addopts`) must not import as a module of examples.

Paths are relative to this folder. Everything else under `hf_embeddings/` is collected, so every `>>>`
example in the package's docstrings runs with the test suite (`pytest hf_embeddings` for the examples only).
"""

collect_ignore = [
    # The Gradio app: imports gradio (the optional `demo` extra) at module level, slow to import, and has
    # no examples; the demo is tested through tests/test_demo.py.
    "hf_embeddings/demo/ui.py",
    # Helpers imported by the test modules (fake Hub server, remote-code child process, planted-weight
    # demo models): no tests or examples, and the child/server scripts are meant to run as processes.
    "tests/_support",
]
