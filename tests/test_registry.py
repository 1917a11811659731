"""Model-family registry: built-in registration with the Auto classes, and entry-point discovery of a
third-party plugin (including broken ones, which must only log a warning)."""

from __future__ import annotations

import logging
import sys
import textwrap

import pytest
import torch
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

TOY_PLUGIN = textwrap.dedent(
    f'''
    """A third-party model family, as another package would ship it."""
    import torch
    from torch import nn
    from transformers import PretrainedConfig, PreTrainedModel

    from hf_embeddings.models.family import ModelFamily
    from hf_embeddings.text.tokenization import WordTokenizer


    class ToyConfig(PretrainedConfig):
        model_type = "{TOY_TYPE}"

        def __init__(self, vocab_size=10, dim=3, **kwargs):
            self.vocab_size = vocab_size
            self.dim = dim
            super().__init__(**kwargs)


    class ToyModel(PreTrainedModel):
        config_class = ToyConfig
        base_model_prefix = "toy"

        def __init__(self, config):
            super().__init__(config)
            self.table = nn.Embedding(config.vocab_size, config.dim)
            self.post_init()

        def forward(self, input_ids):
            return self.table(input_ids)


    FAMILY = ModelFamily(
        name="toy",
        config_class=ToyConfig,
        model_class=ToyModel,
        training_class=ToyModel,
        tokenizer_class=WordTokenizer,
        build_training_data=lambda corpus, config, **kw: None,
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
    assert model(torch.tensor([[1, 2, 3]])).shape == (1, 3, 2)
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
