"""Entry point of the `hf-embeddings` console script: the command line without the package's eager import.

`import hf_embeddings` registers every model family with transformers' Auto classes, so it imports
transformers and torch (4-5 s): Python users rely on it (`import hf_embeddings` then
`AutoModel.from_pretrained(folder)`). The command line does not need it for `--help` or for a query on a
saved folder. This module, outside the package, makes the package importable without running its
`__init__`, imports `hf_embeddings.cli` (which imports nothing heavy), and marks the `__init__` as
deferred; `hf_embeddings.cli.finish_package_import` runs it when a command needs the families.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

__all__ = ["main"]


def main() -> int:
    """Run `hf-embeddings` with the arguments of this process; returns its exit code."""
    if "hf_embeddings" not in sys.modules:
        spec = importlib.util.find_spec("hf_embeddings")
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError("hf_embeddings is not installed", name="hf_embeddings")
        package = importlib.util.module_from_spec(spec)  # __path__ set, __init__ not run
        sys.modules["hf_embeddings"] = package
        cli = importlib.import_module("hf_embeddings.cli")
        vars(package)[cli.DEFERRED_INIT] = True
    from hf_embeddings.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
