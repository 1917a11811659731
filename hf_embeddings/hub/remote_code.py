"""Bundle a model family's code into a saved folder, for `trust_remote_code=True` loading without hf_embeddings.

transformers loads remote code from the files next to config.json and follows only same-folder relative
imports (`from .x import y`). Our code lives in a package (`models/word2vec/modeling_word2vec.py` imports
`from ...vectors.static_model import StaticEmbeddingMixin`), so the bundler:

1. starts from the modules that define the family's Auto classes (config, model, extra heads, tokenizer);
2. follows every import that lands in one of the bundled packages (hf_embeddings itself and the package
   of the family, for plugins), relative or absolute, at module level or inside functions: the import
   graph, not a list;
3. writes each module flat into the folder (`keyed_vectors.py`, `modeling_word2vec.py`; two modules with
   the same file name become `formats_word2vec.py` ...) with those imports rewritten to `from .flat import`;
4. checks the result with transformers' own resolver (every relative import it will chase exists) and
   returns the `auto_map` entries for config.json and tokenizer_config.json.

Training-only modules are left out. Loading without the package is for inference: a bundle should hold
the configuration, modeling and tokenization modules and the small shared ones they need (static_model,
keyed_vectors, pooling, configuration_base, modeling_base, errors, files), not corpus readers or compiled
training kernels (which need numba, scipy, datasets ...). A module that only training needs says so with a
module-level `__training_only__ = True` (`models/word2vec/kernels_word2vec.py`, `data_word2vec.py`). The
bundler then does not follow it (nor anything it imports), and an import of it inside a function of a
bundled module (the training step of `Word2VecForNegativeSampling`) becomes
`raise ImportError("... training code, not bundled ...")`, so the model loads and runs without the
training dependencies and only the training call fails, clearly. Importing a training-only module at
module level from bundled code is an error at save time (the bundle could not load without it): import
it inside the function that trains. `__package_only__ = True` does the same for other code the package
provides but a bundle does not need (the word-vector file formats and the evaluation benchmarks that
`KeyedVectors.save_word2vec_format` / `evaluate_word_pairs` import lazily). `RemoteCodeBundle.training_only`
lists what was left out.

Limits, reported as errors at save time: importing a module object (`from . import x`, `import pkg.x`)
cannot be expressed as a same-folder import, and importing the package root (`hf_embeddings/__init__`)
would drag in everything; import names from the defining module instead.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HFEmbeddingsError
from ..files import write_text_atomic

#: written at the top of every bundled file
HEADER = (
    "# Bundled by hf_embeddings {version} from {module} for trust_remote_code loading; do not edit.\n"
    "# With the package installed (pip install hf-embeddings), trust_remote_code is not needed.\n"
)

#: a module-level `__training_only__ = True` keeps a module (and what only it imports) out of bundles;
#: `__package_only__ = True` does the same for other code that needs the package (file formats, benchmarks)
TRAINING_ONLY_MARKER = "__training_only__"
PACKAGE_ONLY_MARKER = "__package_only__"


class RemoteCodeError(HFEmbeddingsError):
    """The family's code cannot be bundled as transformers remote code."""


@dataclass
class _Module:
    name: str  # dotted module name
    path: Path
    is_package: bool
    source: str = ""
    tree: ast.Module | None = None


@dataclass
class RemoteCodeBundle:
    """What `bundle_remote_code` wrote: files, Auto-class map, and the third-party imports they need."""

    files: dict[str, str] = field(default_factory=dict)  # flat file name -> source module
    auto_map: dict[str, str] = field(default_factory=dict)  # for config.json
    tokenizer_auto_map: dict[str, list] = field(default_factory=dict)  # for tokenizer_config.json
    requirements: list[str] = field(default_factory=list)  # third-party modules needed to load the code
    optional_requirements: list[str] = field(default_factory=list)  # only imported by some functions
    training_only: list[str] = field(default_factory=list)  # modules left out (`__training_only__ = True`)


def _spec_module(name: str) -> _Module | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return _Module(name, Path(spec.origin), spec.submodule_search_locations is not None)


def _parse(mod: _Module) -> None:
    mod.source = mod.path.read_text(encoding="utf-8")
    try:
        mod.tree = ast.parse(mod.source, filename=str(mod.path))
    except SyntaxError as e:
        raise RemoteCodeError(f"cannot bundle {mod.path}: {e}") from None


def _is_training_only(mod: _Module) -> bool:
    """Whether `mod` assigns `__training_only__ = True` at module level."""
    for node in mod.tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(
            isinstance(t, ast.Name) and t.id in (TRAINING_ONLY_MARKER, PACKAGE_ONLY_MARKER) for t in targets
        ):
            return isinstance(value, ast.Constant) and value.value is True
    return False


def _package_of(mod: _Module) -> str:
    return mod.name if mod.is_package else mod.name.rpartition(".")[0]


def _import_targets(node: ast.AST, mod: _Module, roots: set[str]) -> list[tuple[str, str | None]]:
    """(absolute module, imported attribute or None) pairs of `node` that land in a bundled package."""
    out: list[tuple[str, str | None]] = []
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), _package_of(mod))
        else:
            base = node.module or ""
        if base.split(".")[0] not in roots:
            return []
        for alias in node.names:
            out.append((base, alias.name))
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in roots:
                out.append((alias.name, None))
    return out


def _where(mod: _Module, node: ast.AST) -> str:
    return f"{mod.path}, line {getattr(node, 'lineno', '?')}"


def collect_modules(entry_modules: list[str], roots: set[str] | None = None) -> dict[str, _Module]:
    """The entry modules and every module of the `roots` packages they import, transitively, training-only
    modules left out (`RemoteCodeBundle.training_only` lists them)."""
    return _collect(entry_modules, roots)[0]


def _collect(entry_modules: list[str], roots: set[str] | None) -> tuple[dict[str, _Module], set[str]]:
    roots = set(roots or ()) | {"hf_embeddings"} | {m.split(".")[0] for m in entry_modules}
    found: dict[str, _Module] = {}
    left_out: set[str] = set()
    # (module, where it is imported from, whether that import sits inside a function)
    todo: list[tuple[str, str | None, bool]] = [(m, None, False) for m in dict.fromkeys(entry_modules)]
    while todo:
        name, importer, in_function = todo.pop(0)
        if name in left_out and not in_function:
            raise RemoteCodeError(
                f"{importer}: imports the training-only module {name} ({TRAINING_ONLY_MARKER} = True) at "
                "module level, so the bundled code could not load without it; import it inside the function "
                "that trains"
            )
        if name in found or name in left_out:
            continue
        mod = _spec_module(name)
        if mod is None:
            raise RemoteCodeError(f"cannot find the source file of module {name!r}")
        _parse(mod)
        if _is_training_only(mod):
            if importer is None:
                raise RemoteCodeError(
                    f"{name} defines an Auto class but is marked {TRAINING_ONLY_MARKER} = True; it must be bundled"
                )
            left_out.add(name)
            todo.insert(0, (name, importer, in_function))  # check this import against the rule above
            continue
        found[name] = mod
        for node, node_in_function, _ in _imports_in_context(mod.tree):
            for target, attr in _import_targets(node, mod, roots):
                if attr is None:
                    raise RemoteCodeError(
                        f"{_where(mod, node)}: `import {target}` binds a module object, which remote code cannot "
                        "import; use `from <module> import <name>`"
                    )
                if attr != "*" and _spec_module(f"{target}.{attr}") is not None:
                    raise RemoteCodeError(
                        f"{_where(mod, node)}: imports the module {target}.{attr} as an object, which remote code "
                        f"cannot do; use `from {target}.{attr} import <name>`"
                    )
                if "." not in target:
                    raise RemoteCodeError(
                        f"{_where(mod, node)}: imports the package root {target!r}; import from the module that "
                        "defines the name instead (the root imports everything)"
                    )
                if target not in found:
                    todo.append((target, _where(mod, node), node_in_function))
    return found, left_out


def flat_names(modules: dict[str, _Module]) -> dict[str, str]:
    """Module name -> file stem in the bundle: the module's own name, or its path joined by `_` on a clash."""

    def short(name: str) -> str:
        return name.rsplit(".", 1)[-1]

    counts: dict[str, int] = {}
    for name in modules:
        counts[short(name)] = counts.get(short(name), 0) + 1
    out = {}
    for name in modules:
        stem = short(name)
        if counts[stem] > 1:
            stem = "_".join(name.split(".")[1:])  # drop the root package name
        out[name] = stem
    if len(set(out.values())) != len(out):
        raise RemoteCodeError(f"module names collide in the bundle: {sorted(out.items())}")
    return out


def _line_offsets(data: bytes) -> list[int]:
    offsets = [0]
    for i, b in enumerate(data):
        if b == 0x0A:
            offsets.append(i + 1)
    return offsets


def _imports_in_context(tree: ast.Module):
    """Yield (import node, inside a function, inside a try block) for every import statement of `tree`."""

    def visit(node: ast.AST, in_function: bool, in_try: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function, in_try
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from visit(child, True, in_try)
            elif isinstance(child, ast.Try):
                yield from visit(child, in_function, True)
            else:
                yield from visit(child, in_function, in_try)

    yield from visit(tree, False, False)


def _is_third_party(node: ast.AST, roots: set[str]) -> list[str]:
    stdlib = set(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [node.module]
    else:
        return []
    return [n.split(".")[0] for n in names if n.split(".")[0] not in roots and n.split(".")[0] not in stdlib]


def rewrite_imports(
    mod: _Module, flat: dict[str, str], roots: set[str], training_only: Collection[str] = ()
) -> str:
    """`mod`'s source made loadable as same-folder remote code.

    - every import of a bundled module becomes `from .<flat> import ...`;
    - an import of a `training_only` module (always inside a function: `collect_modules` checks) becomes
      `raise ImportError(...)`: the training step fails, clearly, without the package;
    - a third-party import inside a function (a lazy, optional dependency such as `datasets` for Hub
      corpora) is wrapped in `try: ... except ImportError: raise`: same behaviour, but transformers'
      `check_imports`, which skips try blocks, then does not demand the package just to load the model.
    """
    data = mod.source.encode("utf-8")  # AST column offsets are UTF-8 byte offsets
    lines = _line_offsets(data)
    edits: list[tuple[int, int, bytes]] = []
    for node, in_function, in_try in _imports_in_context(mod.tree):
        start = lines[node.lineno - 1] + node.col_offset
        end = lines[node.end_lineno - 1] + node.end_col_offset
        targets = _import_targets(node, mod, roots)
        if targets and targets[0][0] in training_only:
            message = (
                f"{targets[0][0]} is training code (or other code that needs the package), which is not bundled "
                "with the model's remote code: install the hf_embeddings package (pip install hf-embeddings) "
                "and load the model through it (without trust_remote_code)"
            )
            edits.append((start, end, f"raise ImportError({message!r})".encode()))
        elif targets:
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
            edits.append((start, end, f"from .{flat[targets[0][0]]} import {names}".encode()))
        elif in_function and not in_try and _is_third_party(node, roots):
            prefix = data[lines[node.lineno - 1] : start]
            if prefix.strip():  # `if x: import y` on one line: leave it (rare; transformers then checks it)
                continue
            pad = b"\n" + prefix
            statement = data[start:end]
            edits.append(
                (
                    start,
                    end,
                    b"try:" + pad + b"    " + statement + pad + b"except ImportError:" + pad + b"    raise",
                )
            )
    for start, end, new in sorted(edits, reverse=True):
        data = data[:start] + new + data[end:]
    return data.decode("utf-8")


def third_party_imports(modules: dict[str, _Module], roots: set[str]) -> tuple[list[str], list[str]]:
    """(required, optional) top-level third-party modules of the bundle: required ones are imported when the
    code loads (transformers checks they are installed), optional ones only inside functions or try blocks."""
    required, optional = set(), set()
    for mod in modules.values():
        for node, in_function, in_try in _imports_in_context(mod.tree):
            for top in _is_third_party(node, roots):
                (optional if in_function or in_try else required).add(top)
    return sorted(required), sorted(optional - required)


def _qualname(cls: type, flat: dict[str, str]) -> str:
    return f"{flat[cls.__module__]}.{cls.__name__}"


def bundle_modules(
    entry_modules: list[str], folder: str | os.PathLike, roots: set[str] | None = None
) -> dict[str, str]:
    """Write `entry_modules` and every module of `roots` they import, flat and rewritten, into `folder`.

    Returns {module name: flat file stem}. `roots` defaults to hf_embeddings plus the entries' packages.
    Training-only modules (`__training_only__ = True`) are not written; imports of them raise instead.
    """
    from ..version import __version__

    folder = Path(folder)
    roots = set(roots or ()) | {"hf_embeddings"} | {m.split(".")[0] for m in entry_modules}
    modules, training_only = _collect(entry_modules, roots)
    flat = flat_names(modules)
    folder.mkdir(parents=True, exist_ok=True)
    for name, mod in modules.items():
        code = rewrite_imports(mod, flat, roots, training_only)
        text = HEADER.format(version=__version__, module=name) + code
        target = folder / f"{flat[name]}.py"
        write_text_atomic(target, text)
    return flat


def bundle_remote_code(family, folder: str | os.PathLike) -> RemoteCodeBundle:
    """Write the code of `family` (a `ModelFamily`) into `folder`; returns files, auto_map and requirements.

    The folder then loads with `AutoConfig/AutoModel/AutoTokenizer.from_pretrained(folder,
    trust_remote_code=True)` in an environment where hf_embeddings is not installed.
    Files an earlier save bundled (carrying `HEADER`) that the bundle no longer holds are removed.
    """
    folder = Path(folder)
    classes = {
        "AutoConfig": family.config_class,
        "AutoModel": family.model_class,
        **family.extra_auto_classes,
    }
    entries = [cls.__module__ for cls in classes.values()] + [family.tokenizer_class.__module__]
    roots = {"hf_embeddings"} | {m.split(".")[0] for m in entries}
    flat = bundle_modules(entries, folder, roots)
    bundle = RemoteCodeBundle(files={f"{stem}.py": name for name, stem in flat.items()})
    bundle.auto_map = {auto: _qualname(cls, flat) for auto, cls in classes.items()}
    bundle.tokenizer_auto_map = {"AutoTokenizer": [None, _qualname(family.tokenizer_class, flat)]}
    for stale in set(remote_code_files(folder)) - set(bundle.files):  # bundled by an earlier save
        (folder / stale).unlink()
    modules, training_only = _collect(entries, roots)
    bundle.training_only = sorted(training_only)
    bundle.requirements, bundle.optional_requirements = third_party_imports(modules, roots)
    _check_with_transformers(folder, bundle)
    return bundle


def _check_with_transformers(folder: Path, bundle: RemoteCodeBundle) -> None:
    """Every relative import transformers will chase from an Auto-class module must be a bundled file."""
    from transformers.dynamic_module_utils import get_relative_import_files

    refs = list(bundle.auto_map.values()) + [bundle.tokenizer_auto_map["AutoTokenizer"][1]]
    for ref in refs:
        module_file = folder / (ref.rsplit(".", 1)[0] + ".py")
        for needed in get_relative_import_files(str(module_file)):
            if Path(needed).name not in bundle.files:
                raise RemoteCodeError(
                    f"remote code {module_file.name} needs {Path(needed).name}, which was not bundled "
                    "(a docstring or string that looks like `from .x import y`?)"
                )


def remote_code_files(folder: str | os.PathLike) -> list[str]:
    """The bundled .py files of a saved folder (those carrying our header)."""
    marker = HEADER.split("{", 1)[0]
    out = []
    for path in sorted(Path(folder).glob("*.py")):
        with open(path, encoding="utf-8") as f:
            if f.readline().startswith(marker):
                out.append(path.name)
    return out


def describe_bundle(folder: str | os.PathLike) -> dict:
    """{"files": bundled file names, "requirements": third-party modules they need at load time}."""
    folder = Path(folder)
    files = remote_code_files(folder)
    modules = {}
    for name in files:
        mod = _Module(name[:-3], folder / name, False)
        _parse(mod)
        modules[mod.name] = mod
    required, _ = third_party_imports(modules, {"hf_embeddings"})
    return {"files": files, "requirements": required}
