"""Model-family registry: built-in registration with the Auto classes, and entry-point discovery of a
third-party plugin (including broken ones, which must only log a warning)."""

from __future__ import annotations

import logging
import sys
import textwrap

import pytest
import torch
from _support.corpora import topic_sentences, write_lines
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.modeling_auto import MODEL_MAPPING
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING

import hf_embeddings
from hf_embeddings.cli import main as cli_main
from hf_embeddings.errors import HFEmbeddingsError
from hf_embeddings.models import family as registry
from hf_embeddings.models.word2vec import FAMILY, Word2VecConfig, Word2VecModel
from hf_embeddings.text.tokenization import WordTokenizer

TOY_TYPE = "hfe_toy_plugin_test"

# A third-party family as another package would ship it: one folder, one entry point, the public
# contract only (hf_embeddings.models.family, the text and vectors layers), nothing else of ours.
TOY_CONFIGURATION = textwrap.dedent(
    f'''
    from transformers import PretrainedConfig


    class ToyConfig(PretrainedConfig):
        model_type = "{TOY_TYPE}"

        def __init__(self, vocab_size=10, dim=3, epochs=1, learning_rate=0.5, min_count=1, **kwargs):
            if not learning_rate > 0:
                raise ValueError(f"learning_rate must be > 0, got {{learning_rate!r}}")
            self.vocab_size = vocab_size
            self.dim = dim
            self.epochs = epochs
            self.learning_rate = learning_rate
            self.min_count = min_count
            super().__init__(**kwargs)
    '''
)

TOY_MODELING = textwrap.dedent(
    '''
    import torch
    from torch import nn
    from transformers import PreTrainedModel

    from hf_embeddings.vectors.static_model import StaticEmbeddingMixin

    from .configuration_toy import ToyConfig


    class ToyModel(StaticEmbeddingMixin, PreTrainedModel):
        """A word table; `wv` gives the gensim-style queries."""

        config_class = ToyConfig
        base_model_prefix = "toy"

        def __init__(self, config):
            super().__init__(config)
            self.table = nn.Embedding(config.vocab_size, config.dim)
            self.post_init()

        def get_input_embeddings(self):
            return self.table

        def forward(self, input_ids):
            return self.table(input_ids)


    class ToyForNextWord(PreTrainedModel):
        """Trained to predict the next word from the current one (full softmax)."""

        config_class = ToyConfig
        base_model_prefix = "toy"

        def __init__(self, config):
            super().__init__(config)
            self.toy = ToyModel(config)
            self.out = nn.Linear(config.dim, config.vocab_size)
            self.post_init()

        def forward(self, input_ids, labels=None):
            logits = self.out(self.toy(input_ids))
            loss = None if labels is None else nn.functional.cross_entropy(logits, labels)
            return {"loss": loss, "logits": logits}
    '''
)

TOY_PLUGIN = textwrap.dedent(
    '''
    """A third-party model family, as another package would ship it."""
    import numpy as np
    import torch

    from hf_embeddings.models.family import PREBUILT_BATCH_ARGS, ModelFamily, TrainingData, unwrap_batch
    from hf_embeddings.text.tokenization import WordTokenizer

    from .configuration_toy import ToyConfig
    from .modeling_toy import ToyForNextWord, ToyModel


    def make_config(corpus, **options):
        return ToyConfig(vocab_size=len(corpus.tokenizer), **options)


    def build_training_data(corpus, config, *, seed=0, device="cpu"):
        ids = np.asarray(corpus.ids, dtype=np.int64)
        last = np.zeros(len(ids), dtype=bool)
        last[np.asarray(corpus.offsets[1:]) - 1] = True  # no pair across a sentence end
        keep = np.flatnonzero(~last[:-1])
        order = np.random.default_rng(seed).permutation(keep)
        batches = [
            {"input_ids": torch.as_tensor(ids[b]), "labels": torch.as_tensor(ids[b + 1])}
            for b in np.array_split(order, max(1, len(order) // 64))
        ]
        return TrainingData(
            train_dataset=batches,
            data_collator=unwrap_batch,
            training_overrides={"learning_rate": config.learning_rate, "num_train_epochs": config.epochs},
        )


    def evaluate(model, tokenizer):
        return {"toy_mean_norm": float(model.table.weight.detach().norm(dim=1).mean())}


    FAMILY = ModelFamily(
        name="toy",
        config_class=ToyConfig,
        model_class=ToyModel,
        training_class=ToyForNextWord,
        tokenizer_class=WordTokenizer,
        make_config=make_config,
        build_training_data=build_training_data,
        training_defaults={**PREBUILT_BATCH_ARGS, "lr_scheduler_type": "constant", "logging_steps": 5},
        evaluate=evaluate,
        description="a toy plugin family",
    )
    NOT_A_FAMILY = object()
    '''
)

ENTRY_POINTS = textwrap.dedent(
    """
    [hf_embeddings.models]
    toy = toy_plugin:FAMILY
    toy_broken = toy_plugin_broken:FAMILY
    toy_missing = toy_plugin_nonexistent_module:FAMILY
    toy_wrong = toy_plugin:NOT_A_FAMILY

    [console_scripts]
    unrelated = toy_plugin:FAMILY
    """
)


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    """A plugin distribution on sys.path; the registry and transformers' Auto maps are restored after."""
    (tmp_path / "toy_plugin").mkdir()
    (tmp_path / "toy_plugin" / "__init__.py").write_text(TOY_PLUGIN, encoding="utf-8")
    (tmp_path / "toy_plugin" / "configuration_toy.py").write_text(TOY_CONFIGURATION, encoding="utf-8")
    (tmp_path / "toy_plugin" / "modeling_toy.py").write_text(TOY_MODELING, encoding="utf-8")
    (tmp_path / "toy_plugin_broken.py").write_text('raise RuntimeError("plugin exploded on import")\n')
    dist = tmp_path / "toy_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    monkeypatch.setattr(registry, "_LOADED", registry._LOADED)
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("toy_plugin")]:
        del sys.modules[name]
    CONFIG_MAPPING._extra_content.pop(TOY_TYPE, None)
    for mapping in (MODEL_MAPPING, TOKENIZER_MAPPING):
        for key in [k for k in mapping._extra_content if getattr(k, "model_type", None) == TOY_TYPE]:
            del mapping._extra_content[key]


def test_import_registers_word2vec_with_the_auto_classes(tmp_path):
    assert "word2vec" in hf_embeddings.discover_families()
    config = AutoConfig.for_model("hfe_word2vec", vocab_size=12, vector_size=6)
    assert type(config) is Word2VecConfig and config.vector_size == 6
    model = AutoModel.from_config(config)
    assert type(model) is Word2VecModel
    assert TOKENIZER_MAPPING[Word2VecConfig] is WordTokenizer

    # and through a saved folder: config.json + tokenizer files -> the right classes
    model.save_pretrained(tmp_path)
    WordTokenizer.from_vocabulary([f"w{i}" for i in range(8)]).save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)) is Word2VecConfig
    reloaded = AutoModel.from_pretrained(tmp_path)
    assert type(reloaded) is Word2VecModel
    torch.testing.assert_close(reloaded.embeddings.weight, model.embeddings.weight)
    assert type(AutoTokenizer.from_pretrained(tmp_path)) is WordTokenizer


def test_get_family_and_family_for_config():
    assert registry.get_family("word2vec") is FAMILY
    assert registry.family_for_config(Word2VecConfig()) is FAMILY
    with pytest.raises(HFEmbeddingsError, match=r"unknown model 'nope' \(known models: .*word2vec"):
        registry.get_family("nope")

    class Other:
        model_type = "bert"

    with pytest.raises(HFEmbeddingsError, match="no hf_embeddings model family has model_type 'bert'"):
        registry.family_for_config(Other())


def test_register_family_rules(monkeypatch):
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    assert registry.register_family(FAMILY) is FAMILY  # the same object again is fine
    clash = registry.ModelFamily(
        name="word2vec",
        config_class=Word2VecConfig,
        model_class=Word2VecModel,
        training_class=Word2VecModel,
        tokenizer_class=WordTokenizer,
        make_config=lambda *a, **k: None,
        build_training_data=lambda *a, **k: None,
    )
    with pytest.raises(HFEmbeddingsError, match="model family 'word2vec' is already registered"):
        registry.register_family(clash)

    class NoType:
        model_type = ""

    with pytest.raises(HFEmbeddingsError, match="config class has no model_type"):
        registry.ModelFamily(
            name="bad",
            config_class=NoType,
            model_class=Word2VecModel,
            training_class=Word2VecModel,
            tokenizer_class=WordTokenizer,
            make_config=lambda *a, **k: None,
            build_training_data=lambda *a, **k: None,
        )


def test_entry_point_plugin_is_discovered_and_registered(toy_plugin, caplog, tmp_path, capsys):
    assert "toy" not in registry._FAMILIES
    with caplog.at_level(logging.WARNING, logger="hf_embeddings.models.family"):
        families = registry.discover_families(reload=True)

    # the good plugin
    assert {"word2vec", "toy"} <= set(families)
    toy = families["toy"]
    assert toy.config_class.model_type == TOY_TYPE
    assert registry.get_family("toy") is toy
    config = AutoConfig.for_model(TOY_TYPE, vocab_size=7, dim=2)
    assert type(config) is toy.config_class
    model = AutoModel.from_config(config)
    assert type(model) is toy.model_class
    assert model(torch.tensor([[1, 2, 3]])).shape == (1, 3, 2)  # dim=2
    assert TOKENIZER_MAPPING[toy.config_class] is WordTokenizer
    assert registry.family_for_config(config) is toy

    folder = tmp_path / "saved-toy"
    model.save_pretrained(folder)
    WordTokenizer.from_vocabulary(["a", "b", "c"]).save_pretrained(folder)
    assert type(AutoModel.from_pretrained(folder)) is toy.model_class
    assert type(AutoTokenizer.from_pretrained(folder)) is WordTokenizer

    # the broken ones: one warning each, nothing registered, no exception
    for name in ("toy_broken", "toy_missing", "toy_wrong"):
        assert name not in families
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("toy_broken" in m and "plugin exploded on import" in m for m in messages), messages
    assert any("toy_missing" in m and "toy_plugin_nonexistent_module" in m for m in messages), messages
    assert any("toy_wrong" in m and "is not a ModelFamily" in m for m in messages), messages
    assert "unrelated" not in families  # other entry-point groups are ignored

    # the CLI sees it too
    assert cli_main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "a toy plugin family" in out and "word2vec" in out


def test_toy_family_trains_saves_loads_evaluates_and_shows_in_the_demo(toy_plugin, tmp_path, capsys):
    """A plugin family goes through every generic path through its `ModelFamily` alone."""
    import json

    from hf_embeddings.api import load
    from hf_embeddings.demo.models import load_model

    registry.discover_families(reload=True)
    topics = [["ant", "bee", "cat", "dog"], ["red", "tan", "blue", "gray"]]
    corpus = write_lines(tmp_path / "toy.txt", topic_sentences(topics, n=200, length=12, seed=0))
    out = tmp_path / "toy-model"
    args = ["train", "toy", "--corpus", str(corpus), "--output-dir", str(out), "--min-count", "1", "--quiet"]
    # pre-built batches: a per-item batch size is refused in one line, before anything is written
    assert cli_main([*args, "--per-device-train-batch-size", "8"]) == 2
    assert "builds whole batches itself" in capsys.readouterr().err and not out.exists()
    assert cli_main([*args, "--dim", "8", "--epochs", "15", "--learning-rate", "0.3", "--evaluate"]) == 0

    config = json.loads((out / "config.json").read_text())
    assert (config["dim"], config["epochs"], config["learning_rate"]) == (8, 15, 0.3)  # one name per setting
    log = json.loads((out / "training_log.json").read_text())
    losses = [e["loss"] for e in log["log_history"] if "loss" in e]
    assert losses[-1] < 0.8 * losses[0]
    assert json.loads((out / "eval_results.json").read_text())["toy_mean_norm"] > 0
    assert (out / "README.md").read_text().count("toy") > 0

    model, tok = load(out)
    assert type(model).__name__ == "ToyModel" and model.config.dim == 8
    for word in ("ant", "red"):
        topic = next(t for t in topics if word in t)
        assert all(w in topic for w, _ in model.wv.most_similar(word, topn=3)), model.wv.most_similar(word)

    shown = load_model(str(out))
    assert shown.family == "toy" and shown.is_static and not shown.is_contextual
    assert shown.eval_results["toy_mean_norm"] == pytest.approx(
        json.loads((out / "eval_results.json").read_text())["toy_mean_norm"]
    )


def test_discovery_is_cached_until_reload(toy_plugin):
    before = registry.discover_families()
    if registry._LOADED:
        assert "toy" not in before  # the plugin appeared after the first discovery: not seen without reload
    assert "toy" in registry.discover_families(reload=True)
    assert "toy" in registry.discover_families()


def test_import_is_light_and_pipelines_register_on_demand():
    """`import hf_embeddings` pulls in neither the Trainer stack (datasets, pyarrow) nor transformers'
    pipelines (about 2.5 s and 130 MB); our tasks are registered the moment the pipelines are imported."""
    import subprocess
    import sys

    code = (
        "import sys, hf_embeddings\n"
        "heavy = [m for m in ('transformers.pipelines', 'transformers.trainer', 'datasets') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from transformers import pipeline\n"
        "from transformers.pipelines import PIPELINE_REGISTRY\n"
        "tasks = set(PIPELINE_REGISTRY.get_supported_tasks())\n"
        "assert {'next-word', 'word-similarity'} <= tasks, tasks\n"
        "from hf_embeddings.models.nnlm import NextWordPipeline\n"
        "assert PIPELINE_REGISTRY.check_task('next-word')[1]['impl'] is NextWordPipeline\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


@pytest.mark.parametrize("name", sorted(registry.BUILTIN_FAMILIES))
def test_config_special_ids_agree_with_the_word_tokenizer(name):
    """A config whose special ids differ from its tokenizer's makes Trainer rewrite it with a warning
    ("The tokenizer has new PAD/BOS/EOS tokens...") on every training run."""
    from hf_embeddings.text.tokenization import SPECIAL_TOKENS

    tokenizer = WordTokenizer.from_vocabulary(["a", "b"])
    config = registry.get_family(name).config_class()
    for token, key in zip(SPECIAL_TOKENS[1:], ("pad_token_id", "bos_token_id", "eos_token_id")):
        assert getattr(config, key) == tokenizer.convert_tokens_to_ids(token), (name, key)


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(0, 5000),
    per_batch=st.integers(1, 700),
    processes=st.integers(1, 8),
)
def test_batch_ranges_cover_every_item_once_in_a_multiple_of_the_processes(total, per_batch, processes):
    """Batches of a multi-process run come in whole rounds (the DataLoader pads nothing) and still cut
    every item exactly once; one process keeps the plain cut of `per_batch` items, the last one short."""
    from hf_embeddings.models.family import BatchRanges

    batches = BatchRanges(total, per_batch, processes)
    ranges = [batches[i] for i in range(len(batches))]
    assert len(ranges) % processes == 0
    assert ranges[0][0] == 0 and ranges[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # consecutive, no overlap, no gap
    assert all(lo <= hi for lo, hi in ranges)
    fixed = [(lo, min(lo + per_batch, total)) for lo in range(0, max(total, 1), per_batch)]
    if len(fixed) % processes == 0:
        assert ranges == fixed
    else:  # shared out evenly: sizes differ by at most one item, never above per_batch
        sizes = [hi - lo for lo, hi in ranges]
        assert max(sizes) - min(sizes) <= 1 and max(sizes) <= per_batch
    with pytest.raises(IndexError):
        batches[len(batches)]
