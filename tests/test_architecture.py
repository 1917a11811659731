"""The package's import structure: no cycles, layers that import one way, no private names across packages.

Read statically (ast), function-level imports included, so that a lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import hf_embeddings

ROOT = Path(hf_embeddings.__file__).parent
# a package may import from packages of lower layers (and from itself), never from higher or equal ones
LAYERS = {
    "errors": 0, "version": 0, "files": 0,
    "text": 1,
    "evaluation": 2,
    "vectors": 3, "pipelines": 3,
    "models": 4,
    "training": 5, "hub": 5,
    "api": 6,
    "quickstart": 7, "demo": 7,
    "cli": 8,
}  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import of a package module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = (
                importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                if node.level
                else node.module or ""
            )
            if base.split(".")[0] != "hf_embeddings":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub, None, node.lineno) if sub in modules else (base, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            found += [
                (a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "hf_embeddings"
            ]
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycles():
    modules = _modules()
    graph = {
        m: {t for t, _, _ in _imports(m, p, modules) if t in modules and t != m} for m, p in modules.items()
    }
    graph = {m: {t for t in ts if t != "hf_embeddings"} for m, ts in graph.items()}  # the root imports all
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t) :] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_layers_import_one_way_and_no_private_names_cross_packages():
    modules = _modules()
    problems = []
    for name, path in sorted(modules.items()):
        src = _package(name)
        if name == "hf_embeddings":
            continue
        assert src in LAYERS, f"{name}: package {src!r} has no layer in this test"
        for target, attr, line in _imports(name, path, modules):
            dst = _package(target)
            where = f"{path.relative_to(ROOT.parent)}:{line}"
            if target == "hf_embeddings":
                problems.append(f"{where} imports the package root (it imports everything)")
            elif dst != src and LAYERS[dst] >= LAYERS[src]:
                problems.append(
                    f"{where}: {src} (layer {LAYERS[src]}) imports {target} (layer {LAYERS[dst]})"
                )
            imported = attr or target.rpartition(".")[2]
            if dst != src and imported.startswith("_") and not imported.startswith("__"):
                problems.append(f"{where} imports the private name {attr or target} of another package")
    assert not problems, "\n".join(problems)


def test_every_model_folder_is_a_registered_family():
    from hf_embeddings.models.family import BUILTIN_FAMILIES, discover_families

    folders = {p.parent.name for p in (ROOT / "models").glob("*/__init__.py")}
    assert folders == set(BUILTIN_FAMILIES)
    families = discover_families()
    for name in folders:
        family = families[name]
        assert Path(family.card_template).is_file() and Path(family.card_template).parent.name == name
