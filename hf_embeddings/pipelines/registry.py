"""Deferred registration of our pipelines with transformers' `PIPELINE_REGISTRY`.

Importing `transformers.pipelines` costs about 2.5 s and 130 MB (it imports every pipeline and the
image/audio processing stack), and every `import hf_embeddings` would pay it just to register two tasks.
Instead, each task is recorded here and registered the moment `transformers.pipelines` is imported by
anyone (`from transformers import pipeline` does it), or at once when it is already loaded. Users see no
difference: `pipeline("next-word", ...)` finds the task, because the registry is filled before the
`pipeline` function can be reached.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import logging
import sys
import threading

logger = logging.getLogger(__name__)

_TARGET = "transformers.pipelines"
_PENDING: dict[str, tuple[str, str, str]] = {}  # task -> ("module:Class", Auto class name, input type)
_LOCK = threading.RLock()


def register_pipeline_lazily(
    task: str, pipeline_class: str, auto_class: str, input_type: str = "text"
) -> None:
    """Register `task` (pipeline class given as "module:Class", model class as a transformers Auto class
    name) when `transformers.pipelines` is imported; now if it already is."""
    with _LOCK:
        _PENDING[task] = (pipeline_class, auto_class, input_type)
        if _TARGET in sys.modules and getattr(sys.modules[_TARGET], "PIPELINE_REGISTRY", None) is not None:
            _register_pending()
        else:
            _install_hook()


def _register_pending() -> None:
    import transformers
    from transformers.pipelines import PIPELINE_REGISTRY

    with _LOCK:
        pending = dict(_PENDING)
        _PENDING.clear()
    for task, (target, auto_class, input_type) in pending.items():
        try:
            if task in PIPELINE_REGISTRY.get_supported_tasks():
                continue
            module_name, _, attr = target.partition(":")
            module = importlib.import_module(module_name)
            if not hasattr(module, attr) and getattr(module.__spec__, "_initializing", False):
                # that module is being imported and its own import loaded transformers' pipelines: it
                # calls `register_pending()` once it is complete
                with _LOCK:
                    _PENDING.setdefault(task, (target, auto_class, input_type))
                continue
            cls = getattr(module, attr)
            PIPELINE_REGISTRY.register_pipeline(
                task, pipeline_class=cls, pt_model=getattr(transformers, auto_class), type=input_type
            )
        except Exception as e:  # a broken pipeline must not break `import transformers.pipelines`
            logger.warning("could not register the %r pipeline: %s", task, e)


def register_pending() -> None:
    """Register the tasks still pending if transformers' pipelines are loaded. A pipeline module calls
    it at its end: importing that module first imports `transformers.pipelines` (for `Pipeline`) while
    the module's class does not exist yet, so its task waits for this call."""
    if _PENDING and _TARGET in sys.modules and getattr(sys.modules[_TARGET], "PIPELINE_REGISTRY", None):
        _register_pending()


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when `transformers.pipelines` is about to load, it wraps that module's loader
    so our tasks are registered right after the module has run."""

    def __init__(self) -> None:
        self._busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TARGET or self._busy:
            return None
        self._busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _uninstall_hook()
            _register_pending()

        spec.loader.exec_module = exec_module  # this loader instance belongs to this one spec
        return spec


_HOOK: _AfterImport | None = None


def _install_hook() -> None:
    global _HOOK
    if _HOOK is None:
        _HOOK = _AfterImport()
        sys.meta_path.insert(0, _HOOK)


def _uninstall_hook() -> None:
    global _HOOK
    with _LOCK:
        if _HOOK is not None and _HOOK in sys.meta_path:
            sys.meta_path.remove(_HOOK)
        _HOOK = None
