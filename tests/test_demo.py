"""The Gradio demo: query logic, the launched app through `gradio_client`, and a real browser (Playwright +
Debian chromium). Models have planted weights (tests/_support/demo_models.py), so every answer is known."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from hf_embeddings.cli import main as cli_main
from hf_embeddings.demo import context, inputs, neighbours, next_word, projection
from hf_embeddings.demo.models import (
    ENV_VAR,
    DemoInputError,
    DemoModel,
    load_model,
    load_models,
    resolve_sources,
)
from hf_embeddings.errors import HFEmbeddingsError

gr = pytest.importorskip("gradio")
from _support.demo_models import (  # noqa: E402
    FakeElmo,
    FakeElmoTokenizer,
    fake_embed_sentences,
    save_glove,
    save_nnlm,
    save_word2vec,
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STATIC = ["word2vec", "glove", "nnlm"]


@pytest.fixture(scope="module", autouse=True)
def no_telemetry():
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demo-models")
    return {"word2vec": save_word2vec(root / "word2vec"), "glove": save_glove(root / "glove"),
            "nnlm": save_nnlm(root / "nnlm")}  # fmt: skip


@pytest.fixture(scope="module")
def models(folders) -> list[DemoModel]:
    loaded = load_models([str(p) for p in folders.values()])
    elmo = DemoModel(
        "elmo", FakeElmo(), FakeElmoTokenizer(), family="elmo", embed_sentences=fake_embed_sentences
    )
    return [*loaded, elmo]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(models):
    from hf_embeddings.demo.ui import build_demo

    demo = build_demo(models)
    _, url, _ = demo.launch(
        server_name="127.0.0.1",
        server_port=_free_port(),
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
    )
    yield url
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def _table(value) -> list[dict]:
    """A Dataframe output as the client receives it -> list of row dicts."""
    return [dict(zip(value["headers"], row)) for row in value["data"]]


def _app_error(client, *args, api_name: str) -> str:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        client.predict(*args, api_name=api_name)
    message = str(info.value)
    assert "Traceback" not in message
    return message


# ------------------------------------------------------------------------------------- loading
def test_models_are_loaded_by_capability(models):
    caps = {m.name: (m.family, m.is_static, m.can_generate, m.is_contextual) for m in models}
    assert caps == {
        "word2vec": ("word2vec", True, False, False),
        "glove": ("glove", True, False, False),
        "nnlm": ("nnlm", True, True, False),  # loaded with its LM head, still has the word table
        "elmo": ("elmo", False, False, True),
    }


def test_sources_from_arguments_env_and_quickstart_outputs(tmp_path, folders):
    assert resolve_sources(["a", "b"], environ={ENV_VAR: "x"}) == ["a", "b"]
    assert resolve_sources(None, environ={ENV_VAR: "org/one, org/two three"}) == [
        "org/one",
        "org/two",
        "three",
    ]
    out = tmp_path / "outputs"
    shutil.copytree(folders["glove"], out / "glove")
    shutil.copytree(folders["word2vec"], out / "word2vec")
    (out / "summary.json").write_text(json.dumps({"word2vec": {"output_dir": "elsewhere/word2vec"}}))
    # summary.json's entries first (its output_dir is relative to where quickstart ran: fall back to outputs/)
    assert resolve_sources(None, environ={}, outputs=out) == [str(out / "word2vec")]
    (out / "summary.json").unlink()
    assert resolve_sources(None, environ={}, outputs=out) == [str(out / "glove"), str(out / "word2vec")]
    with pytest.raises(HFEmbeddingsError, match="no models to show.*hf-embeddings quickstart"):
        resolve_sources(None, environ={}, outputs=tmp_path / "empty")


def test_hub_ids_are_downloaded_then_loaded_as_folders(monkeypatch, folders):
    import huggingface_hub

    asked = []

    def fake_snapshot(repo_id, **kwargs):
        asked.append(repo_id)
        return str(folders["word2vec"])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    dm = load_model("someone/tiny-word2vec")
    assert asked == ["someone/tiny-word2vec"] and dm.name == "someone/tiny-word2vec"
    assert dm.eval_results["wordsim353_spearman"] == 0.61
    with pytest.raises(HFEmbeddingsError, match="not found"):
        load_model("./no/such/folder")


# -------------------------------------------------------------------------------- input checks
@pytest.mark.parametrize(
    ("text", "message"),
    [("", "Please type"), ("   ", "Please type"), ("w " * 200, "too long.*limit is 300"),
     ("a b c d e f g h i j k l m", "Too many words: 13")],
)  # fmt: skip
def test_parse_words_rejects_bad_input(text, message):
    with pytest.raises(DemoInputError, match=message):
        inputs.parse_words(text)


def test_parse_analogy_accepts_the_usual_notations():
    for text in ("man : king :: woman", "man king woman", "man:king::woman:?", "man, king, woman"):
        assert inputs.parse_analogy(text) == ("man", "king", "woman")
    with pytest.raises(DemoInputError, match="exactly three words.*got 2"):
        inputs.parse_analogy("man king")
    with pytest.raises(DemoInputError, match="got 4"):
        inputs.parse_analogy("a : b :: c : d")


def test_unknown_words_get_close_vocabulary_suggestions(models):
    with pytest.raises(
        DemoInputError, match=r"word2vec: 'kng' is not in the vocabulary \(close words: king\)"
    ):
        neighbours.neighbours(models, ["word2vec"], "kng")
    message = "word2vec: 'kng' (close words: king) and 'xyzzy' are not in the vocabulary"
    with pytest.raises(DemoInputError, match=f"^{re.escape(message)}$"):
        neighbours.odd_one_out(models, ["word2vec"], "kng cat xyzzy dog")


def test_pca_is_the_top_two_principal_components():
    rng = np.random.default_rng(0)
    # points on a plane spanned by two directions, plus tiny noise in 6 other dimensions
    basis = np.linalg.qr(rng.standard_normal((8, 2)))[0].T
    coords = rng.standard_normal((30, 2)) * [5.0, 2.0]
    x = coords @ basis + 1e-4 * rng.standard_normal((30, 8))
    y = projection.pca_2d(x)
    assert y.shape == (30, 2)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-9)
    # distances within the plane are preserved, first axis carries the larger variance
    d = lambda a: np.linalg.norm(a[:, None] - a[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(d(y), d(x - x.mean(0)), atol=1e-3)
    assert y[:, 0].var() > y[:, 1].var()
    np.testing.assert_array_equal(projection.pca_2d(x), y)  # deterministic signs
    assert projection.pca_2d(np.ones((2, 3))).shape == (2, 2)


# ------------------------------------------------------------------------- the app over HTTP
def test_neighbours_side_by_side(client):
    table, notes = client.predict(STATIC[:2], "Cat", 3, api_name="/neighbours")
    rows = _table(table)
    assert [r["word2vec"] for r in rows] == ["dog", "horse", "cow"]
    assert [r["glove"] for r in rows] == ["feline", "dog", "horse"]
    assert rows[0]["word2vec cosine"] == pytest.approx(0.9959, abs=1e-4)
    assert notes == ""
    # a word only one model knows: the other says why, the query still answers
    table, notes = client.predict(STATIC[:2], "cow", 2, api_name="/neighbours")
    assert [r["word2vec"] for r in _table(table)] == ["horse", "dog"] and "glove" not in table["headers"]
    assert "glove: 'cow' is not in the vocabulary" in notes


def test_concurrent_requests_all_answered_through_the_queue(client):
    words = ["cat", "dog", "king", "queen", "red", "paris"] * 2
    jobs = [client.submit(["word2vec"], w, 1, api_name="/neighbours") for w in words]
    firsts = [_table(job.result(timeout=60)[0])[0]["word2vec"] for job in jobs]
    assert firsts == ["dog", "cat", "prince", "woman", "green", "berlin"] * 2


def test_neighbours_bad_inputs(client):
    assert "Please type a word" in _app_error(client, STATIC, "", 5, api_name="/neighbours")
    assert "limit is 300" in _app_error(client, STATIC, "x" * 400, 5, api_name="/neighbours")
    message = _app_error(client, ["word2vec"], "quen", 5, api_name="/neighbours")
    assert "'quen' is not in the vocabulary (close words: queen)" in message
    assert "at least one model" in _app_error(client, [], "cat", 5, api_name="/neighbours")


def test_analogy_both_methods_and_arity(client):
    for method in ("3CosAdd", "3CosMul"):
        table, _ = client.predict(STATIC[:2], "man : king :: woman", method, 3, api_name="/analogy")
        rows = _table(table)
        assert rows[0]["word2vec"] == "queen" and rows[0]["glove"] == "queen"
    add = _table(client.predict(["word2vec"], "man king woman", "3CosAdd", 1, api_name="/analogy")[0])
    mul = _table(client.predict(["word2vec"], "man king woman", "3CosMul", 1, api_name="/analogy")[0])
    assert add[0]["word2vec score"] != mul[0]["word2vec score"]  # different scoring functions
    assert "exactly three words" in _app_error(client, STATIC, "man king", "3CosAdd", 3, api_name="/analogy")
    assert "exactly three words" in _app_error(client, STATIC, "a b c d", "3CosAdd", 3, api_name="/analogy")


def test_similarity_and_odd_one_out(client):
    table, _ = client.predict(STATIC[:2], "cat dog", api_name="/similarity")
    assert {r["model"]: r["cosine"] for r in _table(table)} == pytest.approx(
        {"word2vec": 0.9959, "glove": 0.9959}, abs=1e-4
    )
    assert "two words" in _app_error(client, STATIC, "cat", api_name="/similarity")
    table, _ = client.predict(STATIC[:2], "cat dog horse red", api_name="/odd_one_out")
    assert {r["model"]: r["odd one out"] for r in _table(table)} == {"word2vec": "red", "glove": "red"}
    assert "at least three words" in _app_error(client, STATIC, "cat dog", api_name="/odd_one_out")


def test_map_groups_words_with_their_neighbours(client):
    plot, points, notes = client.predict("word2vec", "king, cat", 3, "PCA", api_name="/map")
    rows = _table(points)
    groups = {r["word"]: r["group"] for r in rows}
    assert groups == {"king": "king", "prince": "king", "man": "king", "queen": "king",
                      "cat": "cat", "dog": "cat", "horse": "cat", "cow": "cat"}  # fmt: skip
    xy = {r["word"]: np.array([r["x"], r["y"]]) for r in rows}
    # the two groups are apart on the map: each word is nearer its own group's typed word
    for word, group in groups.items():
        other = "cat" if group == "king" else "king"
        assert np.linalg.norm(xy[word] - xy[group]) < np.linalg.norm(xy[word] - xy[other])
    assert "Too many words" in _app_error(
        client, "word2vec", ",".join(["cat"] * 13), 3, "PCA", api_name="/map"
    )
    assert "not in the list of choices" in _app_error(client, "word2vec", "cat", 3, "Isomap", api_name="/map")
    with pytest.raises(DemoInputError, match="not available"):
        projection.project(np.eye(5), "Isomap")


def test_next_word_and_generation(client):
    table, chart, notes = client.predict("nnlm", "the", 3, api_name="/next_word")
    rows = _table(table)
    assert [r["word"] for r in rows[:2]] == ["cat", "dog"]
    assert [r["probability"] for r in rows[:2]] == pytest.approx([0.7, 0.3], abs=1e-4)
    _, _, notes = client.predict("nnlm", "zebra the", 3, api_name="/next_word")
    assert "'zebra' as <unk>" in notes
    text, _ = client.predict("nnlm", "the dog", 10, False, 1.0, 0, api_name="/generate")
    assert text == "the dog ran"  # greedy, stops at </s>
    text, _ = client.predict("nnlm", "the cat", 4, False, 1.0, 0, api_name="/generate")
    assert text == "the cat sat on the cat"
    sampled = [client.predict("nnlm", "on", 6, True, 1.0, 7, api_name="/generate")[0] for _ in range(2)]
    assert sampled[0] == sampled[1]  # same seed, same sample
    assert "Please type a few words" in _app_error(client, "nnlm", " ", 3, api_name="/next_word")
    assert "greater than maximum value 50" in _app_error(
        client, "nnlm", "the", 500, False, 1.0, 0, api_name="/generate"
    )
    assert "not in the list of choices" in _app_error(client, "word2vec", "the", 3, api_name="/next_word")


def test_next_word_lists_words_and_notes_what_it_leaves_out(models):
    """The next-word table holds words only: the end of the sentence (and unknown words) are a note."""
    frame, notes = next_word.next_words(models, "nnlm", "ran", 5)
    assert not set(frame["word"]) & {"<unk>", "</s>", "<pad>", "<s>"}
    assert "the end of the sentence (</s>) 1.00000" in notes and "an unknown word (<unk>) 0.00000" in notes
    frame, notes = next_word.next_words(models, "nnlm", "zebra the", 2)
    assert list(frame["word"]) == ["cat", "dog"]
    assert "'zebra' as <unk>" in notes and "not listed" in notes


def test_models_without_the_capability_are_refused(models):
    with pytest.raises(DemoInputError, match=r"Unknown model\(s\): word2vec \(available: nnlm\)"):
        next_word.next_words(models, "word2vec", "the")
    with pytest.raises(DemoInputError, match="between 1 and 50"):
        next_word.generate(models, "nnlm", "the", 500)


def test_context_tab(client):
    table, _ = client.predict("elmo", "bank", "he sat on the bank of the river", "she deposited money at the bank",
                              api_name="/context_similarity")  # fmt: skip
    by_layer = {r["layer"]: r["cosine"] for r in _table(table)}
    assert by_layer["layer 0 (word, no context)"] == pytest.approx(1.0)
    assert by_layer["layer 2"] < by_layer["layer 1"] < 1.0  # the context moves the upper layers
    assert set(by_layer) == {"layer 0 (word, no context)", "layer 1", "layer 2", "scalar mix 0"}
    message = _app_error(client, "elmo", "bank", "the river", "the bank", api_name="/context_similarity")
    assert "'bank' does not occur in the first sentence" in message

    table, _ = client.predict("elmo", "bank", "he sat on the bank", "the river bank was muddy\nwe walked home",
                              0, 3, api_name="/context_neighbours")  # fmt: skip
    rows = _table(table)
    assert rows[0]["token"] == "bank" and rows[0]["cosine"] == pytest.approx(1.0)  # layer 0: same word
    assert rows[0]["in context"] == "the river [bank] was muddy"
    too_many = "\n".join(["a b"] * 21)
    assert "Too many sentences" in _app_error(client, "elmo", "bank", "the bank", too_many, 2, 3,
                                              api_name="/context_neighbours")  # fmt: skip

    mix = _table(client.predict("elmo", api_name="/scalar_mix"))
    assert mix == [
        {"mix": 0, "layer 0 (word, no context)": 0.2, "layer 1": 0.3, "layer 2": 0.5, "gamma": 1.5}
    ]


def test_context_with_a_real_random_weight_elmo(tmp_path):
    elmo = pytest.importorskip("hf_embeddings.models.elmo")
    import torch

    from hf_embeddings import save_model_folder
    from hf_embeddings.demo.ui import build_demo

    torch.manual_seed(0)
    config = elmo.ElmoConfig(char_embedding_dim=4, filters=[[1, 8], [2, 8], [3, 8]], projection_dim=8, lstm_dim=16,
                             n_highway=1, dropout=0.0)  # fmt: skip
    tokenizer = elmo.ElmoCharacterTokenizer.from_vocabulary(["the", "bank", "river"])
    folder = save_model_folder(elmo.ElmoModel(config).eval(), tokenizer, tmp_path / "elmo", remote_code=False)
    dm = load_model(str(folder))
    assert (dm.family, dm.is_contextual, dm.is_static, dm.can_generate) == ("elmo", True, False, False)
    assert dm.embed_sentences is elmo.embed_sentences

    first, second = "he sat on the bank of the river", "she deposited money at the bank"
    frame, _ = context.context_similarity(
        [dm], "elmo", "Bank", first, second
    )  # case-folded to the text's 'bank'
    cosine = dict(zip(frame["layer"], frame["cosine"]))
    assert cosine["layer 0 (word, no context)"] == pytest.approx(1.0, abs=1e-4)  # characters only: no context
    assert cosine["layer 1"] < 0.9999 and cosine["layer 2"] < 0.9999
    layers = elmo.embed_sentences(dm.model, dm.tokenizer, [first.split(), second.split()])
    a, b = layers[0][2, 4], layers[1][2, 5]
    assert cosine["layer 2"] == pytest.approx(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)), abs=1e-4)

    found, _ = context.context_neighbours(
        [dm], "elmo", "bank", first, "the river bank was muddy\nwe walked", 0, 2
    )
    assert found["token"][0] == "bank" and found["cosine"][0] == pytest.approx(1.0, abs=1e-4)
    mixes = context.scalar_mix_table([dm], "elmo")
    assert len(mixes) == len(dm.model.scalar_mix_weights())
    np.testing.assert_allclose(mixes.iloc[:, 1:4].sum(axis=1), 1.0, atol=1e-3)  # softmax weights
    labels = {b.label for b in build_demo([dm]).blocks.values() if isinstance(b, gr.Tab)}
    assert labels == {"Context", "Model cards & scores"}


def test_scores_tab(client, models, folders):
    # the endpoint re-reads the folders: a result written after start-up (hf-embeddings evaluate) shows
    (folders["nnlm"] / "eval_results.json").write_text(json.dumps({"eval_perplexity": 1.7}))
    rows = _table(client.predict(api_name="/scores"))
    got = {(r["model"], r["dataset"]): (r["value"], r["source"]) for r in rows}
    assert got[("word2vec", "WordSim-353")] == (0.61, "eval_results.json")
    assert got[("glove", "WordSim-353")] == (0.45, "README model-index")  # no eval_results.json: the card's
    assert got[("nnlm", "eval split of the training corpus")] == (1.7, "eval_results.json")
    chart = client.predict("WordSim-353 · Spearman correlation", api_name="/score_chart")
    assert chart["mark"] == "bar" and chart["columns"] == ["model", "value"]
    assert {tuple(row) for row in chart["data"]} == {("word2vec", 0.61), ("glove", 0.45)}
    assert "not in the list of choices" in _app_error(client, "Nope · nothing", api_name="/score_chart")


def test_tabs_follow_the_capabilities_of_the_models(models):
    from hf_embeddings.demo.ui import build_demo

    static_only = build_demo([m for m in models if m.name == "word2vec"])
    labels = {b.label for b in static_only.blocks.values() if isinstance(b, gr.Tab)}
    assert labels == {"Neighbours & analogies", "Map", "Model cards & scores"}
    everything = build_demo(models)
    labels = {b.label for b in everything.blocks.values() if isinstance(b, gr.Tab)}
    assert {"Next word", "Context"} <= labels
    assert everything._queue is not None and everything._queue.default_concurrency_limit > 1


# -------------------------------------------------------------------------------------- the CLI
def test_cli_demo_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert cli_main(["demo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no models to show" in err[0]
    assert cli_main(["demo", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("missing not found")


def test_cli_demo_launches_the_app(monkeypatch, folders):
    from hf_embeddings.demo import ui

    launched = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: launched.update(blocks=self, **kw))
    assert cli_main(["demo", str(folders["word2vec"]), "--port", "7999"]) == 0
    assert isinstance(launched.pop("blocks"), gr.Blocks) and launched == {
        "server_name": None,
        "server_port": 7999,
    }
    assert ui.main([str(folders["word2vec"]), "--port", "7998"]) == 0


# -------------------------------------------------------------------------------- the Space
SPACE = Path(__file__).resolve().parents[1] / "spaces_demo"


def test_space_files_and_app_entry_point(folders, capsys):
    import importlib.util

    import yaml

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    header = (SPACE / "README.md").read_text(encoding="utf-8").split("---")[1]
    meta = yaml.safe_load(header)
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and (SPACE / meta["app_file"]).is_file()
    assert int(meta["sdk_version"].split(".")[0]) == int(gr.__version__.split(".")[0])
    requirements = [
        r for r in (SPACE / "requirements.txt").read_text().splitlines() if r and r[0] not in "#-"
    ]
    project = tomllib.loads((SPACE.parent / "pyproject.toml").read_text())["project"]
    assert requirements == [f"{project['name']}[demo]>=0.1"]
    assert any(d.startswith("gradio") for d in project["optional-dependencies"]["demo"])

    spec = importlib.util.spec_from_file_location("space_app", SPACE / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    demo = app.build([str(folders["word2vec"])])
    assert isinstance(demo, gr.Blocks)
    capsys.readouterr()
    assert app.main([str(SPACE / "no-such-model")]) == 2  # one line, no traceback, no server
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hf-embeddings demo: error:")


def test_ci_installs_the_browser_then_runs_exactly_the_readme_test_command():
    root = SPACE.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up: two commands")[1].split("\n## ")[0]
    commands = [line for line in setup.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2  # the README's "exactly two set-up commands"
    ci = [line for line in (root / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci[-1] == commands[1] and "pytest" in ci[-1]
    assert any("apt-get install" in line and "chromium" in line for line in ci)


# -------------------------------------------------------------------------------------- a browser
def _browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            "NO BROWSER: Debian's chromium is not installed (apt-get install chromium; .ci/run does it): "
            "the real-browser demo test did not run"
        )
    return playwright


def _row(page, table: str, row: int) -> list[str]:
    """The cells of one row of a Gradio Dataframe (a virtualised grid: role=gridcell, data-row=N)."""
    return [t.strip() for t in page.locator(f'{table} [role="gridcell"][data-row="{row}"]').all_inner_texts()]


@pytest.mark.slow
def test_in_a_real_browser(server):
    playwright = _browser()
    expect = playwright.expect
    ARTIFACTS.mkdir(exist_ok=True)
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]  # fmt: skip
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(server, wait_until="networkidle")
            page.locator("#nb-word textarea").fill("cat")
            page.locator("#nb-run").click()
            expect(page.locator('#nb-table [data-testid="cell-0-1"]')).to_have_text("dog", timeout=30_000)
            header = [t.strip() for t in page.locator('#nb-table [role="columnheader"]').all_inner_texts()]
            assert header[:5] == ["rank", "word2vec", "word2vec cosine", "glove", "glove cosine"]
            assert _row(page, "#nb-table", 0)[:5] == ["1", "dog", "0.9959", "feline", "0.9966"]
            assert _row(page, "#nb-table", 1)[:5] == ["2", "horse", "0.5766", "dog", "0.9959"]
            page.screenshot(path=str(ARTIFACTS / "demo-neighbours.png"), full_page=True)

            page.get_by_role("tab", name="Next word").click()
            page.locator("#nw-prompt textarea").fill("the")
            page.locator("#nw-run").click()
            expect(page.locator('#nw-table [data-testid="cell-0-0"]')).to_have_text("cat", timeout=30_000)
            assert _row(page, "#nw-table", 1) == ["dog", "0.3"]
            page.get_by_role("tab", name="Model cards & scores").click()
            expect(page.locator("#scores-table")).to_contain_text("README model-index", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "demo-scores.png"), full_page=True)

            page.get_by_role("tab", name="Neighbours & analogies").click()  # bad input: a message, no trace
            page.locator("#nb-word textarea").fill("kng")
            page.locator("#nb-run").click()
            expect(page.get_by_text("close words: king").first).to_be_visible(timeout=30_000)
            assert "Traceback" not in page.content()
            page.screenshot(path=str(ARTIFACTS / "demo-error.png"))
        finally:
            browser.close()
    assert (ARTIFACTS / "demo-neighbours.png").stat().st_size > 10_000
