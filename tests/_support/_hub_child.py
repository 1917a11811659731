"""Child process of tests/test_hub.py: loads models the way a user would and reports what it got as JSON.

Run as `python [-I -S] tests/_support/_hub_child.py SPEC.json OUT.json`. With `"isolate": true` (and -I -S, so no
.pth file, no PYTHONPATH, no current directory on sys.path) the only path added is the venv's
site-packages and a meta-path hook refuses `hf_embeddings`, so the package is not importable whatever
way it was installed: what loads, loads from the files of the model folder (trust_remote_code).
"""

from __future__ import annotations

import json
import sys
import traceback


class _BlockPackage:
    """Meta-path finder that makes `hf_embeddings` (and its submodules) unimportable."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "hf_embeddings" or name.startswith("hf_embeddings."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
        return None


def _error(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}


def _load(step: dict) -> dict:
    from transformers import AutoModel, AutoTokenizer, pipeline

    kwargs = {"trust_remote_code": True} if step.get("trust_remote_code") else {}
    out: dict = {}
    model = AutoModel.from_pretrained(step["source"], **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(step["source"], **kwargs)
    out["model_class"] = f"{type(model).__module__}.{type(model).__name__}"
    out["tokenizer_class"] = f"{type(tokenizer).__module__}.{type(tokenizer).__name__}"
    out["table"] = model.get_input_embeddings().weight.detach().tolist()
    out["ids"] = tokenizer(step["text"])["input_ids"]
    if step.get("words"):  # no attach_tokenizer: the model finds its tokenizer from where it was loaded
        out["most_similar"] = [
            [w, round(float(s), 6)] for w, s in model.most_similar(step["words"][0], topn=3)
        ]
    if step.get("features"):
        pipe = pipeline("feature-extraction", model=step["source"], **kwargs)
        out["features"] = pipe(step["text"])
    if step.get("word_similarity"):
        pipe = pipeline("word-similarity", model=step["source"], **kwargs)
        out["word_similarity"] = pipe(step["words"][0], top_k=3)
    return out


def _hf_embeddings_load(step: dict) -> dict:
    from hf_embeddings.api import load

    model, tokenizer = load(step["source"])
    return {
        "table": model.get_input_embeddings().weight.detach().tolist(),
        "ids": tokenizer(step["text"])["input_ids"],
    }


def _go_offline(step: dict) -> dict:
    """HF_HUB_OFFLINE=1 from now on (read through `is_offline_mode()` at each call) with the endpoint moved to
    a closed port, so nothing can be fetched; forget the remote code modules imported so far so they are
    imported again from the caches."""
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = True
    dead = "http://127.0.0.1:9"
    constants.HUGGINGFACE_CO_URL_TEMPLATE = constants.HUGGINGFACE_CO_URL_TEMPLATE.replace(
        constants.ENDPOINT, dead
    )
    constants.ENDPOINT = dead
    for name in [m for m in sys.modules if m.startswith("transformers_modules")]:
        del sys.modules[name]
    return {}


def main(spec_path: str, out_path: str) -> None:
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("isolate"):
        sys.path.extend(spec["site_packages"])
        sys.meta_path.insert(0, _BlockPackage)
    results: dict = {"steps": []}
    try:
        import hf_embeddings  # noqa: F401  (registers the classes when the package is there)

        results["package"] = True
    except ModuleNotFoundError:
        results["package"] = False
    for step in spec["steps"]:
        try:
            ops = {
                "load": _load,
                "hf_embeddings_load": _hf_embeddings_load,
                "go_offline": _go_offline,
            }
            fn = ops[step["op"]]
            results["steps"].append({"ok": True, **fn(step)})
        except Exception as exc:  # reported to the test, which decides
            results["steps"].append({"ok": False, "error": _error(exc)})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
