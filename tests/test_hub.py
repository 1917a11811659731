"""Hub-ready folders, model cards, remote code, push and download (issue #7), against real clients.

- A saved folder is a complete repo: config/tokenizer `auto_map`, format version, bundled remote code,
  README card (real query outputs, real evaluation numbers only), loss curve.
- Remote code is proven in a child process where `hf_embeddings` cannot be imported (`python -I -S`, only
  the venv's site-packages on sys.path, an import hook hiding the package): AutoModel / AutoTokenizer /
  feature-extraction with `trust_remote_code=True` give the same tensors and ids as the package.
- Push: the real `huggingface_hub` client (classic protocol, HF_HUB_DISABLE_XET) against
  `tests/_support/hub_server.py`, one commit per push; downloads into fresh caches with transformers, offline
  (HF_HUB_OFFLINE=1) from those caches, and through the `olah` mirror (installed once per machine in its
  own virtualenv; skipped, loudly, when pip cannot install it).
- Interop: the sentence-transformers / model2vec static-embedding folder layout.
"""

from __future__ import annotations

import ast
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from _support.corpora import random_sentences

from hf_embeddings.api import load, train
from hf_embeddings.errors import HFEmbeddingsError
from hf_embeddings.hub.card import (
    CARD_MARKER,
    GOOGLE_ANALOGY_DATASET,
    SIMLEX999_DATASET,
    WORDSIM353_DATASET,
    build_model_card,
)
from hf_embeddings.hub.push import push_folder, push_to_hub
from hf_embeddings.hub.save import save_model_folder
from hf_embeddings.models.configuration_base import (
    FORMAT_VERSION,
    FORMAT_VERSION_KEY,
    EmbeddingConfig,
    FormatVersionError,
)

TESTS = Path(__file__).resolve().parent
CHILD = TESTS / "_support" / "_hub_child.py"
SERVER = TESTS / "_support" / "hub_server.py"
TOKEN = "hf_test_token"
SITE_PACKAGES = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
OLAH_VERSION = "0.5.4"

WORDS = (
    "king queen man woman prince princess tiger cat dog car train plane book paper computer keyboard "
    "happy glad easy hard old new berlin germany paris france"
).split()
TEXT = "the king and the queen saw a cat"


HUB_ENV = (  # cleared for every Hub test (clean_hub_env)
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_ENDPOINT",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_TOKEN_PATH",
)


@pytest.fixture(scope="module", autouse=True)
def clean_hub_env(tmp_path_factory):
    """The caller's Hub settings never leak in: no HF_HUB_OFFLINE / HF_ENDPOINT / HF_TOKEN, and HF_HOME is a
    fresh folder. Module-scoped (autouse runs first in its scope), so the module-scoped fixtures below
    (`folder`, `hub`, `pushed`) see it too. huggingface_hub reads these at import, so its constants are
    patched as well (child processes get their own environment from `_child_env`)."""
    from huggingface_hub import constants

    home = tmp_path_factory.mktemp("hf-home")
    with pytest.MonkeyPatch.context() as m:
        for name in HUB_ENV:
            m.delenv(name, raising=False)
        m.setenv("HF_HOME", str(home))
        m.setattr(constants, "HF_HUB_OFFLINE", False)
        m.setattr(constants, "ENDPOINT", constants._HF_DEFAULT_ENDPOINT)
        m.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            constants._HF_DEFAULT_ENDPOINT + "/{repo_id}/resolve/{revision}/{filename}",
        )
        m.setattr(constants, "HF_HOME", str(home))
        m.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
        m.setattr(constants, "HUGGINGFACE_HUB_CACHE", str(home / "hub"))
        m.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
        m.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
        yield home


def _corpus() -> list[str]:
    return random_sentences(WORDS + ["the", "and", "a", "saw"], n=150, length=12, seed=7)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One tiny real Word2Vec run (api.train writes the folder)."""
    root = tmp_path_factory.mktemp("hub-model")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("HF_EMBEDDINGS_CACHE", str(root / "cache"))
        result = train(
            "word2vec",
            _corpus(),
            root / "w2v",
            config={"vector_size": 8, "epochs": 2, "min_count": 1},
            device="cpu",
            show_progress=False,
            training={"logging_steps": 1},
        )
    return result.output_dir


@pytest.fixture
def copy(folder, tmp_path) -> Path:
    target = tmp_path / folder.name
    shutil.copytree(folder, target)
    return target


def _reference(path) -> dict:
    model, tok = load(path)
    return {
        "table": model.get_input_embeddings().weight.detach().tolist(),
        "ids": tok(TEXT)["input_ids"],
        "most_similar": [[w, round(float(s), 6)] for w, s in model.most_similar("king", topn=3)],
    }


# ------------------------------------------------------------------------------------ the folder
def test_saved_folder_is_a_complete_repo(folder):
    names = {p.name for p in folder.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "word_counts.json",
        "training_log.json",
        "loss_curve.svg",
        "README.md",
        "configuration_word2vec.py",
        "modeling_word2vec.py",
        "tokenization.py",
        "keyed_vectors.py",
        "errors.py",
    } <= names
    assert not any(n.endswith(".tmp") or n.startswith(".") for n in names)
    config = json.loads((folder / "config.json").read_text())
    assert config[FORMAT_VERSION_KEY] == FORMAT_VERSION
    assert config["auto_map"] == {
        "AutoConfig": "configuration_word2vec.Word2VecConfig",
        "AutoModel": "modeling_word2vec.Word2VecModel",
    }
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert tok_config["auto_map"] == {"AutoTokenizer": [None, "tokenization.WordTokenizer"]}
    log = json.loads((folder / "training_log.json").read_text())
    assert log["hf_embeddings_version"] and log["training_arguments"]["logging_steps"] == 1


def test_bundled_code_imports_only_its_own_folder(folder):
    from transformers.dynamic_module_utils import get_imports, get_relative_import_files

    from hf_embeddings.hub.remote_code import remote_code_files

    bundled = remote_code_files(folder)
    assert {"configuration_word2vec.py", "modeling_word2vec.py", "tokenization.py"} <= set(bundled)
    for name in bundled:
        tree = ast.parse((folder / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level in (0, 1), f"{name}: {ast.unparse(node)}"
                assert not (node.module or "").startswith("hf_embeddings"), f"{name}: {ast.unparse(node)}"
                if node.level == 1:
                    assert f"{node.module}.py" in bundled, f"{name} imports a module that was not bundled"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("hf_embeddings") for a in node.names)
        # what transformers will chase and check (lazy optional imports such as `datasets` must not count)
        for needed in get_relative_import_files(str(folder / name)):
            assert Path(needed).is_file()
        assert set(get_imports(str(folder / name))) & {"datasets", "gensim", "pandas"} == set()


def test_bundler_handles_collisions_lazy_imports_and_rejects_module_objects(tmp_path, monkeypatch):
    from hf_embeddings.hub.remote_code import RemoteCodeError, bundle_modules, collect_modules

    pkg = tmp_path / "src" / "hfe_bundle_pkg"
    for sub in ("", "x", "y"):
        (pkg / sub).mkdir(parents=True, exist_ok=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "x" / "util.py").write_text("VALUE = 'x'\n")
    (pkg / "y" / "util.py").write_text("VALUE = 'y'\n")
    (pkg / "main.py").write_text(
        "from .x.util import VALUE as X\n"
        "from hfe_bundle_pkg.y.util import (\n    VALUE as Y,\n)\n\n\n"
        "def lazy():\n    import not_an_installed_package_xyz  # noqa\n    from .x.util import VALUE\n    return VALUE\n\n\n"
        "def both():\n    return X + Y\n"
    )
    (pkg / "bad.py").write_text("from . import main\n")
    (pkg / "root.py").write_text("from hfe_bundle_pkg import something\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    out = tmp_path / "bundle" / "hfe_bundled"
    flat = bundle_modules(["hfe_bundle_pkg.main"], out, {"hfe_bundle_pkg"})
    assert flat == {
        "hfe_bundle_pkg.main": "main",
        "hfe_bundle_pkg.x.util": "x_util",
        "hfe_bundle_pkg.y.util": "y_util",
    }
    (out / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "bundle"))
    import importlib

    bundled = importlib.import_module("hfe_bundled.main")
    assert bundled.both() == "xy" and bundled.lazy.__code__  # imports resolved within the bundle
    from transformers.dynamic_module_utils import get_imports

    assert "not_an_installed_package_xyz" not in get_imports(str(out / "main.py"))  # wrapped in try
    with pytest.raises(ModuleNotFoundError):
        bundled.lazy()  # ...but still raises when actually needed
    with pytest.raises(RemoteCodeError, match="as an object"):
        collect_modules(["hfe_bundle_pkg.bad"], {"hfe_bundle_pkg"})
    with pytest.raises(RemoteCodeError, match="package root"):
        collect_modules(["hfe_bundle_pkg.root"], {"hfe_bundle_pkg"})


def test_bundler_leaves_training_only_modules_out(tmp_path, monkeypatch):
    """`__training_only__ = True`: not bundled, not followed; an import of it inside a function raises a clear
    ImportError in the bundle; at module level it is refused at save time."""
    from transformers.dynamic_module_utils import get_imports

    from hf_embeddings.hub.remote_code import RemoteCodeError, bundle_modules, collect_modules

    pkg = tmp_path / "src" / "hfe_train_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("import not_an_installed_package_xyz  # noqa\n")
    (pkg / "kernel.py").write_text(
        "import not_an_installed_package_xyz  # noqa\nfrom .helper import x  # noqa\n\n"
        "__training_only__ = True\n\n\ndef step():\n    return 1\n"
    )
    (pkg / "model.py").write_text(
        "def infer():\n    return 2\n\n\ndef train():\n    from .kernel import step\n\n    return step()\n"
    )
    (pkg / "eager.py").write_text("from .kernel import step  # noqa\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    out = tmp_path / "bundle" / "hfe_trained"
    assert bundle_modules(["hfe_train_pkg.model"], out, {"hfe_train_pkg"}) == {"hfe_train_pkg.model": "model"}
    assert sorted(p.name for p in out.glob("*.py")) == ["model.py"]
    assert get_imports(str(out / "model.py")) == []
    (out / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "bundle"))
    import importlib

    bundled = importlib.import_module("hfe_trained.model")
    assert bundled.infer() == 2
    with pytest.raises(ImportError, match="hfe_train_pkg.kernel is training code"):
        bundled.train()
    with pytest.raises(RemoteCodeError, match="training-only module hfe_train_pkg.kernel .* module level"):
        collect_modules(["hfe_train_pkg.eager"], {"hfe_train_pkg"})


#: what a family's bundle may hold: its configuration, modeling and tokenization modules and the small
#: shared ones, never corpus or training code
SHARED_BUNDLE = {"configuration_base.py", "modeling_base.py", "errors.py", "files.py", "tokenization.py"}
STATIC_BUNDLE = {"static_model.py", "keyed_vectors.py", "pooling.py", "gensim_bridge.py"}
FAMILY_BUNDLES = {
    "word2vec": STATIC_BUNDLE | {"configuration_word2vec.py", "modeling_word2vec.py"},
    "glove": STATIC_BUNDLE | {"configuration_glove.py", "modeling_glove.py"},
    "nnlm": STATIC_BUNDLE | {"configuration_nnlm.py", "modeling_nnlm.py"},
    "svd": STATIC_BUNDLE | {"configuration_svd.py", "modeling_svd.py"},
    "elmo": {
        "configuration_elmo.py",
        "modeling_elmo.py",
        "layers_elmo.py",
        "lstm_elmo.py",
        "tokenization_elmo.py",
    },
}
INFERENCE_REQUIREMENTS = {"numpy", "tokenizers", "torch", "transformers"}


@pytest.mark.parametrize("name", sorted(FAMILY_BUNDLES))
def test_every_family_bundles_only_inference_code(name, tmp_path):
    """Loading without the package is for inference: the bundle is the small set of modules and needs only
    torch, transformers, tokenizers and numpy (no numba, scipy, h5py, datasets ...), also by transformers'
    own import check of each file."""
    import importlib

    from transformers.dynamic_module_utils import get_imports

    from hf_embeddings.hub.remote_code import HEADER, bundle_remote_code
    from hf_embeddings.models.family import BUILTIN_FAMILIES

    if name not in BUILTIN_FAMILIES:
        pytest.skip(f"no {name} family")
    module, _, attr = BUILTIN_FAMILIES[name].partition(":")
    family = getattr(importlib.import_module(module), attr)
    stale = tmp_path / "kernels_word2vec.py"  # what an earlier version bundled is removed on a new save
    stale.write_text(HEADER.format(version="0", module="hf_embeddings.models.word2vec.kernels_word2vec"))
    (tmp_path / "mine.py").write_text("x = 1\n")  # a file of the user's stays
    bundle = bundle_remote_code(family, tmp_path)
    files = set(bundle.files)
    assert files == SHARED_BUNDLE | FAMILY_BUNDLES[name], sorted(files)
    assert sorted(p.name for p in tmp_path.glob("*.py")) == sorted(files | {"mine.py"})
    assert set(bundle.requirements) <= INFERENCE_REQUIREMENTS, bundle.requirements
    heavy = {"numba", "llvmlite", "scipy", "h5py", "datasets", "jinja2", "gradio", "huggingface_hub"}
    assert not heavy & set(bundle.requirements + bundle.optional_requirements)
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for file in files:
        assert set(get_imports(str(tmp_path / file))) - stdlib <= INFERENCE_REQUIREMENTS, file


NO_NUMBA_CHILD = """
import json, sys
sys.path.extend(json.loads(sys.argv[2]))

tried = []

class Block:  # neither the package nor numba (the Word2Vec CPU training kernel's compiler) can be imported
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in ("hf_embeddings", "numba", "llvmlite"):
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)

sys.meta_path.insert(0, Block)
import torch
from transformers import AutoModel, AutoTokenizer

out = {"loads": []}
for source in json.loads(sys.argv[1]):
    model = AutoModel.from_pretrained(source, trust_remote_code=True)
    tok = AutoTokenizer.from_pretrained(source, trust_remote_code=True)
    out["loads"].append({
        "module": type(model).__module__,
        "vector": model.wv["king"].tolist(),
        "most_similar": [[w, round(float(s), 6)] for w, s in model.most_similar("king", topn=3)],
        "ids": tok(sys.argv[3])["input_ids"],
    })
head = sys.modules[type(model).__module__].Word2VecForNegativeSampling(model.config).train()
try:  # the CPU kernel's training step: a clear error, not a failed load
    head(tokens=torch.zeros(8, dtype=torch.long), sentence_ids=torch.zeros(8, dtype=torch.long),
         keep_probs=torch.ones(model.config.vocab_size), noise_accept=torch.ones(model.config.vocab_size),
         noise_alias=torch.zeros(model.config.vocab_size, dtype=torch.long), learning_rate=0.025)
except ImportError as e:
    out["train_error"] = str(e)
out["tried"] = sorted(set(tried))
print(json.dumps(out))
"""


@pytest.mark.slow
def test_word2vec_loads_as_remote_code_without_numba(folder, pushed, hub, tmp_path):
    """Querying vectors needs no training dependency: a child without hf_embeddings, where importing numba
    fails, loads a trained Word2Vec folder and its Hub repo (where transformers checks the imports of every
    module it downloads) with trust_remote_code and answers as the package does; the download warns once
    per bundled module, and the training kernel is not one of them."""
    from hf_embeddings.hub.remote_code import remote_code_files

    model, tok = load(folder)
    env = _child_env(tmp_path / "home", endpoint=hub.url)
    sources = json.dumps([str(folder), pushed])
    cmd = [sys.executable, "-I", "-S", "-c", NO_NUMBA_CHILD, sources, json.dumps(SITE_PACKAGES), TEXT]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    for one in got["loads"]:
        assert one["module"].startswith("transformers_modules.")
        np.testing.assert_array_equal(np.array(one["vector"], dtype=np.float32), model.wv["king"])
        assert one["most_similar"] == [[w, round(float(s), 6)] for w, s in model.most_similar("king", topn=3)]
        assert one["ids"] == tok(TEXT)["input_ids"]
    assert "kernels_word2vec is training code" in got["train_error"]
    assert got["tried"] == []  # nothing even tried to import numba or the package
    bundled = remote_code_files(folder)
    assert 0 < run.stderr.count("A new version of the following files was downloaded") <= len(bundled)
    warned = {line[2:] for line in run.stderr.splitlines() if line.startswith("- ") and line.endswith(".py")}
    assert warned == set(bundled) and "kernels_word2vec.py" not in warned


# -------------------------------------------------------------------------------------- the card
def test_card_metadata_and_body_are_real(folder):
    from huggingface_hub import ModelCard

    card = ModelCard.load(folder / "README.md")
    data = card.data.to_dict()
    assert data["library_name"] == "transformers" and data["pipeline_tag"] == "feature-extraction"
    assert {"hf-embeddings", "word2vec", "static-embeddings"} <= set(data["tags"])
    assert "model-index" not in data and data["license"] == "unknown"  # not evaluated, corpus in memory
    text = card.text
    assert CARD_MARKER in text and "Not evaluated" in text
    model, tok = load(folder)
    config = json.loads((folder / "config.json").read_text())
    for key in (
        "vector_size",
        "window",
        "negative",
        "sample",
        "alpha",
        "min_count",
        "epochs",
        "architecture",
    ):
        assert f"| `{key}` | {config[key]} |" in text
    assert f"{len(tok) - 4} words plus 4 special tokens" in text
    log = json.loads((folder / "training_log.json").read_text())
    assert f"{log['corpus_words']:,} words in {log['corpus_sentences']:,} lines" in text
    assert log["hardware"] in text and "![Training loss](loss_curve.svg)" in text
    # the examples are what the model answers
    word = next(line for line in text.splitlines() if line.startswith("- nearest words to **")).split("**")[1]
    expected = ", ".join(f"{w} ({s:.3f})" for w, s in model.most_similar(word, topn=5))
    assert f"- nearest words to **{word}**: {expected}" in text
    analogy = model.most_similar(positive=["king", "woman"], negative=["man"], topn=3)
    assert "**man : king :: woman : ?** (3CosAdd): " + ", ".join(f"{w} ({s:.3f})" for w, s in analogy) in text
    assert "```bibtex" in text and "Mikolov" in text


def test_loss_curve_is_drawn_from_the_log(folder):
    from hf_embeddings.hub.loss_curve import loss_series

    log = json.loads((folder / "training_log.json").read_text())
    x_label, _, points = loss_series(log)
    assert x_label == "step" and len(points) >= 2  # logging_steps=1: one point per step
    svg = ET.parse(folder / "loss_curve.svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    line = svg.find(f"{ns}polyline")
    assert line is not None and len(line.get("points").split()) == len(points)


def test_card_model_index_holds_the_measured_numbers_only(copy):
    pytest.importorskip("gensim", reason="the benchmark files ship with gensim")
    from huggingface_hub import ModelCard

    from hf_embeddings.api import evaluate_dir

    results = evaluate_dir(copy)
    card = ModelCard.load(copy / "README.md")
    index = {
        (r.dataset_type, r.metric_type, r.metric_name): r.metric_value for r in card.data.eval_results or []
    }
    ws, sl, ga = WORDSIM353_DATASET, SIMLEX999_DATASET, GOOGLE_ANALOGY_DATASET
    expected = {
        (ws, "spearmanr", "Spearman correlation"): results["wordsim353_spearman"],
        (ws, "pearsonr", "Pearson correlation"): results["wordsim353_pearson"],
        (sl, "spearmanr", "Spearman correlation"): results["simlex999_spearman"],
        (ga, "accuracy", "Accuracy (3CosAdd)"): results["google_analogy_accuracy"],
        (ga, "semantic_accuracy", "Semantic accuracy (3CosAdd)"): results["google_analogy_semantic_accuracy"],
    }
    for key, value in expected.items():
        if isinstance(value, float) and math.isnan(value):
            assert key not in index  # not measurable -> not claimed
        else:
            assert index[key] == pytest.approx(value, abs=1e-6)
    assert "Not evaluated" not in card.text and "Measured on this model" in card.text
    # a NaN result (no scorable pair) is shown as such and never enters the model-index
    saved = json.loads((copy / "eval_results.json").read_text())
    saved["simlex999_spearman"] = float("nan")
    (copy / "eval_results.json").write_text(json.dumps(saved))
    card = build_model_card(copy)
    assert (sl, "spearmanr") not in {(r.dataset_type, r.metric_type) for r in card.data.eval_results}
    assert "| SimLex-999 | Spearman correlation | not measurable" in card.text


#: what an evaluated folder's eval_results.json holds (numbers made up: the card only reports them)
RESULTS = {
    "heldout_perplexity": 41.5,
    "wordsim353_spearman": 0.41,
    "wordsim353_pearson": 0.39,
    "wordsim353_n_pairs": 353,
    "wordsim353_n_oov": 20,
    "simlex999_spearman": 0.22,
    "google_analogy_accuracy": 0.12,
    "google_analogy_semantic_accuracy": 0.1,
    "google_analogy_syntactic_accuracy": 0.14,
}


def _hub_metadata(folder: Path) -> tuple[dict, list]:
    """The card's YAML as the Hub's own client parses it: `ModelCardData` (which raises on a model-index
    it cannot read) and `model_index_to_eval_results` on the raw `model-index`."""
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    data = ModelCard(str(build_model_card(folder))).data.to_dict()
    if "model-index" not in data:
        return data, []
    name, results = model_index_to_eval_results(data["model-index"])
    assert name == folder.name
    return data, results


def test_card_metadata_is_what_the_hub_expects(copy):
    """Benchmarks are named by their Hub dataset ids, a perplexity on a held-out split only when the corpus
    is a Hub dataset (its id then is also the card's `datasets:`), and every entry is the one
    `huggingface_hub.metadata_eval_result` writes for the same number."""
    from huggingface_hub import metadata_eval_result

    from hf_embeddings.text.sources import is_repo_id

    (copy / "eval_results.json").write_text(json.dumps(RESULTS))
    benchmarks = {WORDSIM353_DATASET, SIMLEX999_DATASET, GOOGLE_ANALOGY_DATASET}
    assert all(is_repo_id(d) for d in benchmarks)  # owner/name: ids, not names
    # a corpus in memory: no dataset id anywhere, the perplexity stays in the card's table only
    data, results = _hub_metadata(copy)
    assert "datasets" not in data
    assert {r.dataset_type for r in results} == benchmarks
    assert len(results) == len(RESULTS) - 3  # the perplexity and the two counts are not in the index
    assert "| heldout split of the training corpus | Perplexity | 41.5000 |" in build_model_card(copy).text
    # a datasets object passed in memory has no id either
    log = json.loads((copy / "training_log.json").read_text())
    (copy / "training_log.json").write_text(json.dumps({**log, "corpus": "dataset Dataset[text]"}))
    data, _ = _hub_metadata(copy)
    assert "datasets" not in data and "a `datasets.Dataset` passed in memory" in build_model_card(copy).text
    # a Hub dataset as corpus: the training data and the split the perplexity was measured on
    (copy / "training_log.json").write_text(json.dumps({**log, "corpus": "dataset tester/tiny-corpus[text]"}))
    data, results = _hub_metadata(copy)
    assert data["datasets"] == ["tester/tiny-corpus"]
    assert {r.dataset_type for r in results} == benchmarks | {"tester/tiny-corpus"}
    flat = {
        (r["task"]["type"], r["task"].get("name"), r["dataset"]["type"], r["dataset"]["name"], m["type"],
         m.get("name"), m["value"])
        for r in data["model-index"][0]["results"] for m in r["metrics"]
    }  # fmt: skip
    reference = set()
    for r in results:
        (entry,) = metadata_eval_result(
            model_pretty_name=copy.name,
            task_pretty_name=r.task_name,
            task_id=r.task_type,
            metrics_pretty_name=r.metric_name,
            metrics_id=r.metric_type,
            metrics_value=r.metric_value,
            dataset_pretty_name=r.dataset_name,
            dataset_id=r.dataset_type,
        )["model-index"][0]["results"]
        (metric,) = entry["metrics"]
        reference.add(
            (entry["task"]["type"], entry["task"]["name"], entry["dataset"]["type"], entry["dataset"]["name"],
             metric["type"], metric["name"], metric["value"])
        )  # fmt: skip
    assert flat == reference


def test_card_of_converted_vectors_claims_no_training(tmp_path):
    from huggingface_hub import ModelCard

    from hf_embeddings.hub.convert import import_vectors

    vectors = tmp_path / "vectors.txt"
    rng = np.random.default_rng(0)
    lines = [f"{len(WORDS)} 4"] + [w + " " + " ".join(f"{x:.4f}" for x in rng.normal(size=4)) for w in WORDS]
    vectors.write_text("\n".join(lines) + "\n")
    out = import_vectors(
        vectors, tmp_path / "imported", base_model="someone/original-vectors", license="apache-2.0"
    )
    card = ModelCard.load(out / "README.md")
    assert card.data.base_model == "someone/original-vectors" and card.data.license == "apache-2.0"
    assert "converted from `vectors.txt` (word2vec format" in card.text
    assert "Not documented: no training log" in card.text and "Not evaluated" in card.text
    assert json.loads((out / "conversion.json").read_text())["vectors"] == len(WORDS)
    assert (out / "modeling_word2vec.py").is_file() and not (out / "loss_curve.svg").exists()


# ------------------------------------------------------------------------- save_model_folder, version
def test_save_model_folder_from_python(folder, tmp_path):
    from hf_embeddings.models.word2vec import Word2VecForNegativeSampling

    model, tok = load(folder)
    head = Word2VecForNegativeSampling(model.config)
    head.word2vec.load_state_dict(model.state_dict())
    out = save_model_folder(
        head, tok, tmp_path / "saved", license="mit", language="en"
    )  # a head: base is saved
    again, tok2 = load(out)
    assert torch.equal(again.get_input_embeddings().weight, model.get_input_embeddings().weight)
    assert tok2(TEXT)["input_ids"] == tok(TEXT)["input_ids"]
    data = json.loads((out / "config.json").read_text())
    assert data["auto_map"]["AutoModel"] == "modeling_word2vec.Word2VecModel"
    from huggingface_hub import ModelCard

    card = ModelCard.load(out / "README.md")
    assert card.data.license == "mit" and card.data.language == "en" and card.data.model_name == "saved"
    # the head holds the folder's own weights: the folder's training log still describes them
    assert (out / "training_log.json").read_bytes() == (folder / "training_log.json").read_bytes()
    with pytest.raises(HFEmbeddingsError, match="not empty"):
        save_model_folder(model, tok, out)
    with torch.no_grad():  # changed weights: nothing the folder measured is claimed for them
        head.word2vec.embeddings.weight[5] += 1.0
    changed = save_model_folder(head, tok, tmp_path / "changed")
    assert not (changed / "training_log.json").exists()
    assert "No training log was saved" in ModelCard.load(changed / "README.md").text


def test_newer_format_version_fails_clearly(copy):
    config = json.loads((copy / "config.json").read_text())
    config[FORMAT_VERSION_KEY] = FORMAT_VERSION + 1
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        FormatVersionError, match=f"format version {FORMAT_VERSION + 1}.*upgrade hf-embeddings"
    ):
        load(copy)
    config[FORMAT_VERSION_KEY] = "two"
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(FormatVersionError, match="invalid"):
        load(copy)


def test_embedding_config_checks_the_version_on_from_pretrained(tmp_path):
    from transformers import AutoConfig

    class _VersionedConfig(EmbeddingConfig):
        model_type = "hfe_test_versioned"

        def __init__(self, size: int = 3, **kwargs):
            self.size = size
            super().__init__(**kwargs)

    AutoConfig.register("hfe_test_versioned", _VersionedConfig, exist_ok=True)
    _VersionedConfig(size=5).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved[FORMAT_VERSION_KEY] == FORMAT_VERSION
    assert AutoConfig.from_pretrained(tmp_path).size == 5
    del saved[FORMAT_VERSION_KEY]  # written before the field existed: version 1
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert AutoConfig.from_pretrained(tmp_path).hf_embeddings_format_version == FORMAT_VERSION
    saved[FORMAT_VERSION_KEY] = FORMAT_VERSION + 1
    (tmp_path / "config.json").write_text(json.dumps(saved))
    with pytest.raises(FormatVersionError, match="upgrade"):
        AutoConfig.from_pretrained(tmp_path)


# ----------------------------------------------------------------------------------------- pipeline
def test_word_similarity_pipeline(folder):
    from transformers import pipeline

    model, _ = load(folder)
    words = pipeline("word-similarity", model=str(folder))
    got = words("king", top_k=3)
    assert [(d["word"], round(d["score"], 6)) for d in got] == [
        (w, round(float(s), 6)) for w, s in model.most_similar("king", topn=3)
    ]
    analogy = words({"positive": ["king", "woman"], "negative": ["man"]}, top_k=2)
    assert [d["word"] for d in analogy] == [
        w for w, _ in model.most_similar(positive=["king", "woman"], negative=["man"], topn=2)
    ]
    pair = words({"pair": ["king", "queen"]})
    assert pair["score"] == pytest.approx(float(model.wv.similarity("king", "queen")), abs=1e-6)
    assert len(words(["king", "cat"], top_k=2)) == 2
    with pytest.raises(KeyError, match="zyzzyva"):
        words("zyzzyva")


def test_word_similarity_pipeline_normalises_query_words(folder):
    """Query words go through the tokenizer's normaliser (it lowercases); an empty word is a clear error."""
    from transformers import pipeline

    words = pipeline("word-similarity", model=str(folder))
    assert words("King", top_k=3) == words("king", top_k=3) == words(" KING ", top_k=3)
    assert words({"pair": ["King", "QUEEN"]}) == words({"pair": ["king", "queen"]})
    assert words({"pair": ["King", "QUEEN"]})["words"] == ["king", "queen"]
    analogy = {"positive": ["King", "Woman"], "negative": ["MAN"]}
    assert words(analogy, top_k=2) == words({"positive": ["king", "woman"], "negative": ["man"]}, top_k=2)
    for empty in ("", "   ", {"pair": ["", "king"]}, {"positive": ["king", ""]}):
        with pytest.raises(HFEmbeddingsError, match="empty"):
            words(empty)
    with pytest.raises(KeyError, match="Zyzzyva"):
        words("Zyzzyva")


# --------------------------------------------------------------------------------------- processes
def _child_env(home: Path, *, endpoint: str | None = None, offline: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.pop("PYTHONPATH", None)
    env.update(
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TOKENIZERS_PARALLELISM="false",
        HF_EMBEDDINGS_CACHE=str(home / "hfe-cache"),
        HF_ENDPOINT=endpoint or "http://127.0.0.1:9",  # never the real Hub
    )
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def _start_child(workdir: Path, name: str, steps: list[dict], *, isolate: bool, env: dict):
    spec, out = workdir / f"{name}.spec.json", workdir / f"{name}.out.json"
    spec.write_text(json.dumps({"isolate": isolate, "site_packages": SITE_PACKAGES, "steps": steps}))
    cmd = [sys.executable, *(["-I", "-S"] if isolate else []), str(CHILD), str(spec), str(out)]
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, out


def _finish(started, timeout: float = 180) -> dict:
    proc, out = started
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        log, _ = proc.communicate()
        raise AssertionError(f"child timed out:\n{log[-4000:]}") from None
    assert proc.returncode == 0, log[-4000:]
    return json.loads(out.read_text())


def _ok(step: dict) -> dict:
    assert step["ok"], step.get("error", {}).get("traceback")
    return step


class HubServer:
    def __init__(self, proc: subprocess.Popen, url: str):
        self.proc, self.url = proc, url

    def _get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def log(self) -> list[str]:
        return [line for line in self._get("/_test/log") if not line.startswith("GET /_test/")]

    def commits(self, repo_id: str) -> list[dict]:
        return self._get(f"/_test/commits/{repo_id}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    work = tmp_path_factory.mktemp("hub-server")
    port_file = work / "port"
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--port-file", str(port_file), "--token", TOKEN],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=work,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the test Hub server did not start"
            time.sleep(0.05)
        yield HubServer(proc, f"http://127.0.0.1:{port_file.read_text()}")
    finally:
        _stop(proc)


@pytest.fixture
def hub_env(hub, monkeypatch):
    """Point this process's huggingface_hub at the test server (constants are read at import: patch them)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    return hub


def _commit_posts(log: list[str], repo_id: str) -> int:
    return sum(line.startswith(f"POST /api/models/{repo_id}/commit/") for line in log)


@pytest.fixture(scope="module")
def pushed(folder, hub, tmp_path_factory) -> str:
    """The tiny model pushed once to the test server (with an explicit endpoint and token)."""
    work = tmp_path_factory.mktemp("pushed")
    local = work / "w2v"
    shutil.copytree(folder, local)
    from huggingface_hub import constants

    before = hub.log()
    with pytest.MonkeyPatch.context() as m:  # the classic upload protocol (the server has no Xet)
        m.setattr(constants, "HF_HUB_DISABLE_XET", True)
        url = push_folder(local, "tester/w2v", endpoint=hub.url, token=TOKEN)
    log = hub.log()[len(before) :]
    assert _commit_posts(log, "tester/w2v") == 1 and url.startswith(f"{hub.url}/tester/w2v/commit/")
    assert any(line.startswith("PUT /lfs-upload/") for line in log)  # the weights went through LFS
    return "tester/w2v"


def test_push_is_one_commit_with_model_tokenizer_and_card(pushed, hub, folder):
    commits = hub.commits(pushed)
    assert [c["title"] for c in commits] == ["initial commit", "Upload w2v with hf-embeddings"]
    files = set(commits[-1]["files"])
    local = {p.name for p in folder.iterdir()}
    assert files == local | {".gitattributes"}
    from huggingface_hub import HfApi, ModelCard

    readme = HfApi(endpoint=hub.url).hf_hub_download(
        pushed, "README.md", cache_dir=str(folder.parent / "dl-cache")
    )
    card = ModelCard.load(readme)
    assert card.data.model_name == pushed and f'AutoModel.from_pretrained("{pushed}")' in card.text


def test_push_again_unchanged_then_stale_files_removed(folder, hub_env, tmp_path):
    hub = hub_env
    local = tmp_path / "w2v"
    shutil.copytree(folder, local)
    push_folder(local, "tester/stale")
    before = len(hub.commits("tester/stale"))
    push_folder(local, "tester/stale")  # nothing changed: no new commit
    assert len(hub.commits("tester/stale")) == before
    (local / "loss_curve.svg").unlink()
    (local / "eval_results.json").write_text("{}")
    log0 = len(hub.log())
    push_folder(local, "tester/stale")
    assert _commit_posts(hub.log()[log0:], "tester/stale") == 1
    files = set(hub.commits("tester/stale")[-1]["files"])
    assert "loss_curve.svg" not in files and "eval_results.json" in files and "config.json" in files


def test_push_to_hub_python_function_and_cli(folder, hub_env, tmp_path, capsys, monkeypatch):
    from hf_embeddings.cli import main

    hub = hub_env
    model, tok = load(folder)
    log0 = len(hub.log())
    url = push_to_hub(model, tok, "tester/from-python", license="mit")
    assert _commit_posts(hub.log()[log0:], "tester/from-python") == 1 and "/tester/from-python/commit/" in url
    files = set(hub.commits("tester/from-python")[-1]["files"])
    assert {
        "README.md",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "modeling_word2vec.py",
    } <= files
    local = tmp_path / "cli"
    shutil.copytree(folder, local)
    assert main(["push", str(local), "tester/from-cli"]) == 0
    assert "/tester/from-cli/commit/" in capsys.readouterr().out
    # a refused push is one line on stderr, exit 2
    monkeypatch.setenv("HF_TOKEN", "wrong")
    assert main(["push", str(local), "tester/denied"]) == 2
    err = capsys.readouterr().err
    assert "push of" in err and "Traceback" not in err


def test_train_push_to_hub(hub_env, tmp_path, capsys, monkeypatch):
    from hf_embeddings.cli import main

    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(_corpus()[:60]) + "\n")
    monkeypatch.setenv("HF_EMBEDDINGS_CACHE", str(tmp_path / "cache"))
    argv = ["train", "word2vec", "--corpus", str(corpus), "--output-dir", str(tmp_path / "out"), "--quiet"]
    rc = main(
        [
            *argv,
            "--epochs",
            "1",
            "--vector-size",
            "4",
            "--min-count",
            "1",
            "--device",
            "cpu",
            "--push-to-hub",
            "tester/trained",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    files = set(hub_env.commits("tester/trained")[-1]["files"])
    assert {"README.md", "training_log.json", "loss_curve.svg", "model.safetensors"} <= files


@pytest.mark.slow
def test_downloads_with_and_without_the_package_online_and_offline(folder, pushed, hub, tmp_path):
    """Fresh caches, real transformers; the package-free child proves the bundled remote code.

    Three processes: without the package (online, then offline from its cache: HF_HUB_OFFLINE and the
    endpoint on a closed port), with the package online, then with the package in a new process started
    with HF_HUB_OFFLINE=1 and a closed endpoint.
    """
    ref = _reference(folder)
    home_remote, home_pkg = tmp_path / "home-remote", tmp_path / "home-pkg"
    remote_steps = [
        {
            "op": "load",
            "source": str(folder),
            "trust_remote_code": True,
            "text": TEXT,
            "words": ["king"],
            "features": True,
        },
        {"op": "load", "source": str(folder), "trust_remote_code": False, "text": TEXT},
        {"op": "load", "source": pushed, "trust_remote_code": True, "text": TEXT, "words": ["king"]},
        {"op": "go_offline"},  # HF_HUB_OFFLINE, endpoint on a closed port
        {"op": "load", "source": pushed, "trust_remote_code": True, "text": TEXT, "words": ["king"]},
        {"op": "load", "source": "tester/never-downloaded", "trust_remote_code": True, "text": TEXT},
    ]
    pkg_steps = [
        {"op": "load", "source": pushed, "text": TEXT, "words": ["king"], "word_similarity": True},
        {"op": "hf_embeddings_load", "source": pushed, "text": TEXT},
    ]
    a = _start_child(
        tmp_path, "remote", remote_steps, isolate=True, env=_child_env(home_remote, endpoint=hub.url)
    )
    b = _start_child(
        tmp_path, "package", pkg_steps, isolate=False, env=_child_env(home_pkg, endpoint=hub.url)
    )
    package = _finish(b)
    # offline from the cache just filled, in a new process; the endpoint is a closed port
    d = _start_child(
        tmp_path, "package-offline", pkg_steps, isolate=False, env=_child_env(home_pkg, offline=True)
    )
    remote, package_off = _finish(a), _finish(d)

    assert remote["package"] is False and package["package"] is True
    local_trusted, untrusted, hub_trusted, _, cached, missing = remote["steps"]
    for got in (_ok(local_trusted), _ok(hub_trusted), _ok(cached)):
        assert got["model_class"].startswith("transformers_modules.") and got["model_class"].endswith(
            ".Word2VecModel"
        )
        assert got["tokenizer_class"].endswith(".tokenization.WordTokenizer")
        assert got["table"] == ref["table"] and got["ids"] == ref["ids"]
        assert got["most_similar"] == ref["most_similar"]
    table = np.asarray(ref["table"])
    np.testing.assert_allclose(np.asarray(local_trusted["features"])[0], table[ref["ids"]], rtol=1e-6)
    assert not untrusted["ok"] and "trust_remote_code" in untrusted["error"]["message"]
    assert not missing["ok"] and missing["error"]["type"] == "OSError"

    auto, via_api = (_ok(s) for s in package["steps"])
    assert auto["model_class"] == "hf_embeddings.models.word2vec.modeling_word2vec.Word2VecModel"
    assert auto["tokenizer_class"] == "hf_embeddings.text.tokenization.WordTokenizer"
    assert auto["table"] == ref["table"] and auto["ids"] == ref["ids"] and via_api["table"] == ref["table"]
    assert [[d["word"], round(d["score"], 6)] for d in auto["word_similarity"]] == ref["most_similar"]
    for step in package_off["steps"]:
        assert _ok(step)["table"] == ref["table"] and step["ids"] == ref["ids"]
    assert package_off["steps"][0]["word_similarity"] == auto["word_similarity"]


# ---------------------------------------------------------------------------------------------- olah
def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.environ.get("HF_EMBEDDINGS_TEST_CACHE", os.path.join(base, "hf-embeddings-tests")))


@pytest.fixture(scope="session")
def olah_cli() -> Path:
    """`olah-cli` from its own virtualenv (olah pins old dependencies), created once per machine."""
    venv = _cache_root() / f"olah-{OLAH_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}"
    exe = venv / "bin" / "olah-cli"
    ready = venv / ".installed"
    if not ready.is_file():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
            )
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"olah=={OLAH_VERSION}"],
                check=True,
                capture_output=True,
                text=True,
                timeout=900,
            )
        except (subprocess.SubprocessError, OSError) as e:
            detail = getattr(e, "stderr", "") or str(e)
            reason = f"OLAH MIRROR TEST NOT RUN: could not install olah=={OLAH_VERSION} into {venv}: {detail[-500:]}"
            warnings.warn(reason, stacklevel=1)
            pytest.skip(reason)
        ready.write_text(OLAH_VERSION)
    if not exe.is_file():
        pytest.skip(f"OLAH MIRROR TEST NOT RUN: {exe} missing after install")
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_download_through_the_olah_mirror(olah_cli, folder, pushed, hub, tmp_path):
    """A Hub mirror we did not write serves the pushed repo to transformers."""
    upstream = hub.url.split("://", 1)[1]
    port = _free_port()
    cmd = [
        str(olah_cli), "--host", "127.0.0.1", "--port", str(port),
        "--hf-scheme", "http", "--hf-netloc", upstream, "--hf-lfs-netloc", upstream,
        "--mirror-scheme", "http", "--mirror-netloc", f"127.0.0.1:{port}", "--mirror-lfs-netloc", f"127.0.0.1:{port}",
        "--repos-path", str(tmp_path / "olah-repos"), "--log-path", str(tmp_path / "olah-logs"),
    ]  # fmt: skip
    log_file = open(tmp_path / "olah.out", "w")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "olah.out").read_text()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "olah did not start listening"
                time.sleep(0.2)
        ref = _reference(folder)
        n_upstream = len(hub.log())
        steps = [{"op": "load", "source": pushed, "text": TEXT, "words": ["king"], "word_similarity": True}]
        env = _child_env(tmp_path / "home-olah", endpoint=f"http://127.0.0.1:{port}")
        got = _ok(_finish(_start_child(tmp_path, "olah", steps, isolate=False, env=env))["steps"][0])
        assert (
            got["table"] == ref["table"]
            and got["ids"] == ref["ids"]
            and got["most_similar"] == ref["most_similar"]
        )
        upstream_log = hub.log()[n_upstream:]
        assert any("/resolve/" in line and "model.safetensors" in line for line in upstream_log)  # via olah
    finally:
        _stop(proc)
        log_file.close()


# ---------------------------------------------------------------------------------------------- interop
def test_static_embedding_folder_layout(folder, tmp_path):
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from hf_embeddings.cli import main

    out = tmp_path / "static"
    assert main(["convert", "export", str(folder), str(out), "--format", "static"]) == 0
    assert {p.name for p in out.iterdir()} == {
        "model.safetensors",
        "tokenizer.json",
        "config.json",
        "modules.json",
        "README.md",
    }
    model, tok = load(folder)
    tensors = load_file(out / "model.safetensors")
    assert set(tensors) == {"embeddings"}  # model2vec's key; sentence-transformers falls back to it
    table = tensors["embeddings"]
    full = model.get_input_embeddings().weight.detach().numpy()
    assert table.shape == full.shape and table.dtype == np.float32
    special = sorted(tok.all_special_ids)
    assert not table[special].any()
    words = [i for i in range(len(tok)) if i not in special]
    np.testing.assert_array_equal(table[words], full[words])
    backend = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert backend.get_vocab_size() == len(tok) == table.shape[0]
    assert backend.encode(TEXT, add_special_tokens=False).ids == tok(TEXT)["input_ids"]
    modules = json.loads((out / "modules.json").read_text())
    assert modules == [
        {"idx": 0, "name": "0", "path": ".", "type": "sentence_transformers.models.StaticEmbedding"}
    ]
    config = json.loads((out / "config.json").read_text())
    assert (
        config["model_type"] == "model2vec"
        and config["hidden_dim"] == table.shape[1]
        and config["normalize"] is False
    )
    # a sentence vector the way both libraries compute it: mean of the rows of the ids
    ids = torch.tensor(backend.encode(TEXT, add_special_tokens=False).ids)
    bag = torch.nn.EmbeddingBag.from_pretrained(torch.from_numpy(table), mode="mean")
    expected = table[ids.numpy()].mean(0)
    np.testing.assert_allclose(bag(ids[None]).numpy()[0], expected, rtol=1e-6)
    assert main(["convert", "export", str(folder), str(out), "--format", "static"]) == 2  # needs --overwrite


def test_static_folder_loads_in_sentence_transformers_and_model2vec(folder, tmp_path):
    from hf_embeddings.hub.convert import export_static_folder

    out = export_static_folder(folder, tmp_path / "static")
    loaded = 0
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        warnings.warn("sentence-transformers not installed: static folder not loaded with it", stacklevel=1)
    else:
        emb = SentenceTransformer(str(out), device="cpu").encode([TEXT])
        assert emb.shape == (1, 8)
        loaded += 1
    try:
        from model2vec import StaticModel
    except ImportError:
        warnings.warn("model2vec not installed: static folder not loaded with it", stacklevel=1)
    else:
        assert StaticModel.from_pretrained(str(out)).encode([TEXT]).shape == (1, 8)
        loaded += 1
    if not loaded:
        pytest.skip(
            "STATIC EXPORT NOT LOADED BY ITS CONSUMERS: neither sentence-transformers nor model2vec is installed "
            "(the folder layout is checked by test_static_embedding_folder_layout)"
        )


def test_card_command_rewrites_metadata(copy, capsys):
    from huggingface_hub import ModelCard

    from hf_embeddings.cli import main

    with pytest.raises(SystemExit) as info:
        main(["card", "--help"])
    assert info.value.code == 0
    (copy / "README.md").unlink()  # e.g. after a failed card step at the end of training

    assert main(["card", str(copy), "--license", "cc-by-4.0", "--repo-id", "someone/model"]) == 0
    card = ModelCard.load(copy / "README.md")
    assert card.data.license == "cc-by-4.0" and 'from_pretrained("someone/model")' in card.text
    assert main(["card", str(copy)]) == 0  # a rewrite keeps what the YAML already says
    card = ModelCard.load(copy / "README.md")
    assert card.data.license == "cc-by-4.0" and card.data.model_name == "someone/model"


def test_a_failing_card_never_loses_a_training_run(tmp_path, monkeypatch, caplog):
    import hf_embeddings.hub.card

    def broken(*args, **kwargs):
        raise RuntimeError("simulated template bug")

    monkeypatch.setattr(hf_embeddings.hub.card, "write_model_card", broken)
    monkeypatch.setenv("HF_EMBEDDINGS_CACHE", str(tmp_path / "cache"))
    with caplog.at_level("ERROR", logger="hf_embeddings.hub.save"):
        result = train("word2vec", _corpus()[:40], tmp_path / "out", config={"vector_size": 4, "epochs": 1, "min_count": 1},
                       device="cpu", show_progress=False)  # fmt: skip
    names = {p.name for p in result.output_dir.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "modeling_word2vec.py"} <= names
    assert "README.md" not in names and "simulated template bug" in caplog.text
    load(result.output_dir)  # still a working model; `hf-embeddings card DIR` writes the card later


# ---------------------------------------------------------------------------- the demo as a Space
@pytest.mark.slow
def test_demo_space_is_self_contained_and_pushes_in_one_commit(folder, hub_env, tmp_path, capsys):
    """`hf-embeddings demo --build-space`: app + README (Space header) + the package source + its
    requirements + the models; the app imports the copy beside it and finds the listed models; the
    folder goes to a Gradio Space repo in one commit."""
    from hf_embeddings.cli import main
    from hf_embeddings.demo.space import push_space

    hub = hub_env
    space = tmp_path / "space"
    assert main(["demo", str(folder), "someone/glove-demo", "--build-space", str(space)]) == 0
    assert (space / "README.md").read_text().startswith("---\n") and "sdk: gradio" in (
        space / "README.md"
    ).read_text()
    reqs = (space / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("torch") for r in reqs) and any(r.startswith("gradio") for r in reqs)
    assert not any(r.startswith(("pytest", "hf-embeddings")) for r in reqs)
    assert (space / "hf_embeddings" / "hub" / "templates" / "base.md.j2").is_file()  # card templates ship
    assert (space / "hf_embeddings" / "models" / "word2vec" / "card_word2vec.md.j2").is_file()
    assert not any(p.is_symlink() for p in space.rglob("*"))
    listed = (space / "demo_models.txt").read_text().split()
    assert listed[1] == "someone/glove-demo" and (space / listed[0] / "model.safetensors").is_file()
    code = (
        "import app, hf_embeddings, json\n"
        "from hf_embeddings.demo.models import resolve_sources\n"
        "print(json.dumps([hf_embeddings.__file__, resolve_sources(environ={})]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_EMBEDDINGS_DEMO_MODELS"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=space, capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    module_file, sources = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(module_file).resolve().is_relative_to(space.resolve())  # the Space's own copy
    assert len(sources) == 2 and sources[1] == "someone/glove-demo"
    assert Path(space / sources[0]).resolve() == (space / listed[0]).resolve()

    with pytest.MonkeyPatch.context() as m:
        from huggingface_hub import constants

        m.setattr(constants, "HF_HUB_DISABLE_XET", True, raising=False)
        push_space(space, "tester/demo-space", token=TOKEN, endpoint=hub.url)
    files = set(hub.commits("tester/demo-space")[-1]["files"])
    assert {
        "app.py",
        "README.md",
        "requirements.txt",
        "demo_models.txt",
        "hf_embeddings/__init__.py",
    } <= files
    assert f"{listed[0]}/model.safetensors" in files
    assert not (space / "hf_embeddings" / "data" / "wiki-sample.txt.xz").exists()  # the app needs no corpus
    assert main(["demo", "not a model", "--build-space", str(tmp_path / "bad")]) == 2
    assert "neither a model folder nor a Hub repo id" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


# ------------------------------------------------------------------------------ publishing without surprises
def test_push_renders_the_card_for_the_upload_and_leaves_the_folder_alone(folder, hub_env, tmp_path):
    local = tmp_path / "w2v"
    shutil.copytree(folder, local)
    before = {p.name: p.read_bytes() for p in local.iterdir() if p.is_file()}
    push_folder(local, "tester/untouched")
    assert {p.name: p.read_bytes() for p in local.iterdir() if p.is_file()} == before
    from huggingface_hub import HfApi, ModelCard

    readme = HfApi(endpoint=hub_env.url).hf_hub_download(
        "tester/untouched", "README.md", cache_dir=str(tmp_path / "dl")
    )
    card = ModelCard.load(readme)
    assert card.data.model_name == "tester/untouched"
    assert 'from_pretrained("tester/untouched")' in card.text


def test_pushing_a_loaded_model_keeps_what_its_folder_knew(folder, hub_env, tmp_path):
    from huggingface_hub import HfApi, ModelCard

    from hf_embeddings.api import evaluate_dir

    folder = Path(shutil.copytree(folder, tmp_path / "evaluated"))
    evaluate_dir(folder)  # eval_results.json + a card with its model-index
    from hf_embeddings.hub.card import write_model_card

    write_model_card(folder, license="mit", language="en")  # what `hf-embeddings card DIR` records
    model, tok = load(folder)
    push_to_hub(model, tok, "tester/reloaded")
    files = set(hub_env.commits("tester/reloaded")[-1]["files"])
    assert {"training_log.json", "eval_results.json", "loss_curve.svg", "README.md"} <= files
    api = HfApi(endpoint=hub_env.url)
    pushed = ModelCard.load(
        api.hf_hub_download("tester/reloaded", "README.md", cache_dir=str(tmp_path / "dl"))
    )
    local = ModelCard.load(folder / "README.md")
    assert (
        (pushed.data.license, pushed.data.language)
        == (local.data.license, local.data.language)
        == ("mit", "en")
    )
    results = [
        sorted(json.dumps(r, sort_keys=True) for e in c.data.to_dict()["model-index"] for r in e["results"])
        for c in (pushed, local)
    ]
    assert results[0] == results[1] and results[0]  # the same measured numbers, under the repo's name
    assert "model_name" not in pushed.data.to_dict() or pushed.data.model_name == "tester/reloaded"
    assert "Not evaluated" not in pushed.text


def test_training_caches_stay_local_unless_asked(hub_env, tmp_path):
    out = tmp_path / "glove"
    train("glove", _corpus(), out, config={"vector_size": 4, "epochs": 1, "min_count": 1, "window_size": 3},
          device="cpu", show_progress=False)  # fmt: skip
    cache = [p.name for p in out.iterdir() if p.suffix == ".npz"]
    assert cache, "GloVe keeps its co-occurrence matrix beside the weights"
    push_folder(out, "tester/glove-light")
    assert not set(cache) & set(hub_env.commits("tester/glove-light")[-1]["files"])
    push_folder(out, "tester/glove-full", include_caches=True)
    assert set(cache) <= set(hub_env.commits("tester/glove-full")[-1]["files"])


_HIDE_PACKAGE = f"""
import sys
sys.path.extend({SITE_PACKAGES!r})
class _Hide:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "hf_embeddings" or name.startswith("hf_embeddings."):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, _Hide)
"""


def _tiny_folder(family: str, root: Path) -> Path:
    options = {
        "glove": {"vector_size": 4, "epochs": 2, "window_size": 3},
        "nnlm": {"context_size": 2, "embedding_dim": 8, "hidden_size": 8, "epochs": 1, "batch_size": 64},
        "svd": {"vector_size": 4, "window_size": 2},
        # two steps of a tiny ELMo: the card's code needs a real folder, not a trained one
        "elmo": {"projection_dim": 8, "lstm_dim": 16, "batch_size": 60, "max_steps": 2},
    }[family]
    out = root / family
    train(family, _corpus(), out, config={**options, "min_count": 1}, device="cpu", show_progress=False)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("family", ["word2vec", "glove", "nnlm", "svd", "elmo"])
def test_every_code_block_of_a_card_runs(family, folder, tmp_path):
    """The card's Python examples, run as a user would: those that use the package with it (and they say
    so), the others -- `trust_remote_code` -- in an interpreter where the package cannot be imported."""
    import re

    out = folder if family == "word2vec" else _tiny_folder(family, tmp_path)
    card = str(build_model_card(out, repo_id=str(out)))
    blocks = re.findall(r"```python\n(.*?)```", card, re.S)
    assert len(blocks) >= 2, blocks
    groups: dict[bool, list[str]] = {True: [], False: []}
    for code in blocks:
        with_package = "hf_embeddings" in code
        assert not with_package or re.search(r"#.*(the package|hf-embeddings)", code), code  # it says so
        groups[with_package].append(code)
    assert groups[False], "no block runs without the package"
    env = _child_env(tmp_path / "home", offline=True)
    for with_package, codes in groups.items():  # one interpreter per group (torch's import dominates)
        if not codes:
            continue
        prelude = "" if with_package else _HIDE_PACKAGE
        cmd = [
            sys.executable,
            *([] if with_package else ["-I", "-S"]),
            "-c",
            prelude + _RUN_BLOCKS,
            json.dumps(codes),
        ]
        done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        ran = done.stdout.count("block ")
        assert done.returncode == 0, f"{codes[max(ran - 1, 0)]}\n---\n{done.stderr[-3000:]}"
        assert ran == len(codes)


_RUN_BLOCKS = """
import json, sys
for i, code in enumerate(json.loads(sys.argv[1])):  # each block as its own script: fresh globals
    print("block", i, flush=True)
    exec(compile(code, f"<card block {i}>", "exec"), {"__name__": "__main__"})
"""


def test_card_metrics_have_one_type_each(copy):
    from huggingface_hub import ModelCard

    from hf_embeddings.api import evaluate_dir

    evaluate_dir(copy)
    for entry in ModelCard.load(copy / "README.md").data.to_dict()["model-index"]:
        for result in entry["results"]:
            types = [m["type"] for m in result["metrics"]]
            assert len(types) == len(set(types)), result
