"""The Gradio app: widgets wired to the query modules of `hf_embeddings.demo`, one tab per capability of
the loaded models.

A tab appears only when some loaded model can answer it (a static word table, a language-model head,
contextual embeddings), so the app works with whichever model families exist. Every handler turns bad
input into a `gr.Error` with a readable message (a toast in the page, an `AppError` for API clients);
nothing reaches the user as a stack trace. Requests go through Gradio's queue.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from ..errors import HFEmbeddingsError
from ..hub.card import ANALOGY_EXAMPLES
from .context import context_neighbours, context_similarity, scalar_mix_table
from .examples import example_words
from .inputs import MAX_NEIGHBOURS_PER_WORD, MAX_NEW_TOKENS, MAX_SENTENCES, MAX_TOPN, MAX_WORDS
from .models import ENV_VAR, DemoModel, load_models
from .neighbours import ANALOGY_METHODS, analogy, neighbours, odd_one_out, similarity
from .next_word import generate, next_words
from .projection import available_projections, word_map
from .scores import metric_labels, reload_scores, score_chart, score_table

logger = logging.getLogger(__name__)

TITLE = "hf_embeddings: classic word embeddings"
CONCURRENCY = 4  # requests served at once (the rest wait in the queue)


def _bind(fn: Callable[..., Any], models: Sequence[DemoModel]) -> Callable[..., Any]:
    """`fn(models, *inputs)` as a Gradio handler whose failures are friendly messages."""

    @functools.wraps(fn)
    def handler(*inputs: Any) -> Any:
        try:
            return fn(models, *inputs)
        except HFEmbeddingsError as e:  # DemoInputError and the library's own one-line errors
            raise gr.Error(str(e), print_exception=False) from None
        except Exception as e:  # a bug: log it, show one line
            logger.exception("demo handler %s failed", fn.__name__)
            raise gr.Error(
                f"Sorry, that query failed ({type(e).__name__}: {e}).", print_exception=False
            ) from None

    # Gradio names the API parameters after the signature: fn's, without `models`
    signature = inspect.signature(fn)
    handler.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    return handler


def _with_table(fn: Callable[..., tuple]) -> Callable[..., tuple]:
    """(frame, notes) -> (frame for a plot, the same frame for a table, notes)."""

    @functools.wraps(fn)
    def both(*args: Any) -> tuple:
        frame, notes = fn(*args)
        return frame, frame, notes

    return both


def _examples(words: list[str]) -> dict[str, list]:
    """Example inputs built from words every static model knows, so each example really answers."""
    w = words + ["king", "queen", "man", "woman", "paris", "france"][: max(0, 6 - len(words))]
    known = set(words)
    analogies = [f"{a} : {b} :: {c}" for a, b, c in ANALOGY_EXAMPLES if {a, b, c} <= known]
    if not analogies and len(words) >= 3:
        analogies = [f"{words[0]} : {words[1]} :: {words[2]}"]
    return {
        "words": [[x] for x in w[:3]],
        "pairs": [[f"{w[0]} {w[1]}"], [f"{w[1]} {w[2]}"]],
        "analogies": [[a] for a in analogies[:2]] or [["man : king :: woman"]],
        "odd": [[" ".join(w[:4])]],
        "map": [[", ".join(w[:3])], [w[0]]],
    }


def _neighbours_tab(models: Sequence[DemoModel], names: list[str], ex: dict[str, list]) -> None:
    chosen = gr.CheckboxGroup(names, value=names, label="Models (results side by side)", elem_id="nb-models")
    gr.Markdown("### Nearest words")
    with gr.Row():
        word = gr.Textbox(
            label="Word (several words: their mean)", placeholder="king", elem_id="nb-word", scale=3
        )
        topn = gr.Slider(1, MAX_TOPN, value=10, step=1, label="How many", scale=1)
    run = gr.Button("Find nearest words", variant="primary", elem_id="nb-run")
    gr.Examples(ex["words"], inputs=[word], label="Examples")
    notes = gr.Markdown(elem_id="nb-notes")
    table = gr.Dataframe(
        label="Nearest words (cosine similarity)",
        headers=["rank", *names],
        interactive=False,
        elem_id="nb-table",
    )
    gr.on([run.click, word.submit], _bind(neighbours, models), [chosen, word, topn], [table, notes],
          api_name="neighbours")  # fmt: skip

    gr.Markdown("### Analogy a : b :: c : ?")
    with gr.Row():
        question = gr.Textbox(
            label="a : b :: c", placeholder="man : king :: woman", elem_id="an-text", scale=3
        )
        method = gr.Radio(list(ANALOGY_METHODS), value="3CosAdd", label="Method", scale=1)
    run = gr.Button("Solve", elem_id="an-run")
    gr.Examples(ex["analogies"], inputs=[question], label="Examples")
    notes = gr.Markdown()
    table = gr.Dataframe(label="Answers", headers=["rank", *names], interactive=False, elem_id="an-table")
    gr.on([run.click, question.submit], _bind(analogy, models), [chosen, question, method, topn],
          [table, notes], api_name="analogy")  # fmt: skip

    with gr.Row():
        with gr.Column():
            gr.Markdown("### Similarity of two words")
            pair = gr.Textbox(label="Two words", placeholder="cat dog", elem_id="sim-text")
            run = gr.Button("Compare", elem_id="sim-run")
            gr.Examples(ex["pairs"], inputs=[pair], label="Examples")
            notes = gr.Markdown()
            table = gr.Dataframe(label="Cosine similarity", headers=["model", "cosine"], interactive=False)
            gr.on([run.click, pair.submit], _bind(similarity, models), [chosen, pair], [table, notes],
                  api_name="similarity")  # fmt: skip
        with gr.Column():
            gr.Markdown("### Odd one out")
            group = gr.Textbox(label="Three or more words", placeholder="breakfast cereal dinner lunch")
            run = gr.Button("Which one does not belong?", elem_id="odd-run")
            gr.Examples(ex["odd"], inputs=[group], label="Examples")
            notes = gr.Markdown()
            table = gr.Dataframe(label="Odd one out", headers=["model", "odd one out"], interactive=False)
            gr.on([run.click, group.submit], _bind(odd_one_out, models), [chosen, group], [table, notes],
                  api_name="odd_one_out")  # fmt: skip


def _map_tab(models: Sequence[DemoModel], names: list[str], ex: dict[str, list]) -> None:
    gr.Markdown("Chosen words and their nearest neighbours in 2-D, coloured by the word they belong to.")
    with gr.Row():
        model = gr.Dropdown(names, value=names[0], label="Model")
        methods = available_projections()
        method = gr.Radio(methods, value="PCA", label="Projection (t-SNE / UMAP when installed)")
        k = gr.Slider(0, MAX_NEIGHBOURS_PER_WORD, value=8, step=1, label="Neighbours per word")
    words = gr.Textbox(
        label=f"Words (up to {MAX_WORDS})", placeholder="king, cat, paris", elem_id="map-words"
    )
    run = gr.Button("Draw the map", variant="primary", elem_id="map-run")
    gr.Examples(ex["map"], inputs=[words], label="Examples")
    notes = gr.Markdown()
    plot = gr.ScatterPlot(x="x", y="y", color="group", tooltip=["word", "group"], height=480, label="Map",
                          elem_id="map-plot")  # fmt: skip
    with gr.Accordion("Points", open=False):
        points = gr.Dataframe(
            headers=["x", "y", "word", "group", "typed"], interactive=False, elem_id="map-points"
        )

    gr.on([run.click, words.submit], _bind(_with_table(word_map), models), [model, words, k, method], [plot, points, notes],
          api_name="map")  # fmt: skip


def _next_word_tab(models: Sequence[DemoModel], names: list[str], ex: dict[str, list]) -> None:
    model = gr.Dropdown(names, value=names[0], label="Language model")
    gr.Markdown("### Next word")
    with gr.Row():
        prompt = gr.Textbox(label="Prompt", placeholder="the history of", elem_id="nw-prompt", scale=3)
        top_k = gr.Slider(1, MAX_TOPN, value=10, step=1, label="Top k", scale=1)
    run = gr.Button("Predict the next word", variant="primary", elem_id="nw-run")
    prompts = [[" ".join(row[0].split()[:2])] for row in ex["words"][:2]]
    gr.Examples(prompts, inputs=[prompt], label="Examples")
    notes = gr.Markdown()
    with gr.Row():
        table = gr.Dataframe(
            label="Next words", headers=["word", "probability"], interactive=False, elem_id="nw-table"
        )
        chart = gr.BarPlot(x="word", y="probability", sort="-y", label="Probability", height=360)

    gr.on([run.click, prompt.submit], _bind(_with_table(next_words), models), [model, prompt, top_k], [table, chart, notes],
          api_name="next_word")  # fmt: skip

    gr.Markdown("### Continue the text")
    with gr.Row():
        length = gr.Slider(1, MAX_NEW_TOKENS, value=15, step=1, label="Words to generate")
        sample = gr.Checkbox(value=False, label="Sample (otherwise greedy)")
        temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature")
        seed = gr.Number(value=0, precision=0, label="Seed")
    run = gr.Button("Generate", elem_id="gen-run")
    text = gr.Textbox(label="Continuation", interactive=False, elem_id="gen-text")
    notes = gr.Markdown()
    gr.on([run.click], _bind(generate, models), [model, prompt, length, sample, temperature, seed],
          [text, notes], api_name="generate")  # fmt: skip


def _context_tab(models: Sequence[DemoModel], names: list[str]) -> None:
    model = gr.Dropdown(names, value=names[0], label="Contextual model")
    gr.Markdown(
        "### One word, two sentences\nLayer 0 ignores the context; higher layers show the senses apart."
    )
    with gr.Row():
        word = gr.Textbox(label="Word", value="bank", elem_id="ctx-word", scale=1)
        first = gr.Textbox(label="Sentence 1", value="he sat on the bank of the river", scale=3)
        second = gr.Textbox(label="Sentence 2", value="she deposited money at the bank", scale=3)
    run = gr.Button("Compare across layers", variant="primary", elem_id="ctx-run")
    gr.Examples(
        [["bank", "he sat on the bank of the river", "she deposited money at the bank"],
         ["play", "the children play in the park", "we saw a play at the theatre"]],
        inputs=[word, first, second], label="Examples",
    )  # fmt: skip
    table = gr.Dataframe(
        label="Cosine similarity per layer",
        headers=["layer", "cosine"],
        interactive=False,
        elem_id="ctx-table",
    )
    notes = gr.Markdown()
    gr.on([run.click], _bind(context_similarity, models), [model, word, first, second], [table, notes],
          api_name="context_similarity")  # fmt: skip

    gr.Markdown("### Nearest tokens in context")
    with gr.Row():
        n_word = gr.Textbox(label="Word", value="bank", scale=1)
        sentence = gr.Textbox(label="Its sentence", value="he sat on the bank of the river", scale=3)
    candidates = gr.Textbox(
        label=f"Sentences to search (one per line, up to {MAX_SENTENCES})", lines=4,
        value="the river bank was muddy\nthe bank raised its interest rates\nwe walked along the shore",
    )  # fmt: skip
    with gr.Row():
        layer = gr.Slider(0, 2, value=2, step=1, label="Layer")
        topn = gr.Slider(1, MAX_TOPN, value=8, step=1, label="How many")
    run = gr.Button("Find nearest tokens", elem_id="ctxn-run")
    table = gr.Dataframe(
        label="Nearest tokens",
        headers=["token", "cosine", "sentence", "in context"],
        interactive=False,
        elem_id="ctxn-table",
    )
    notes = gr.Markdown()
    gr.on([run.click], _bind(context_neighbours, models), [model, n_word, sentence, candidates, layer, topn],
          [table, notes], api_name="context_neighbours")  # fmt: skip

    gr.Markdown(
        "### Scalar-mix weights\nHow much each layer counts in the learned mixes (softmax weights, scale gamma)."
    )
    mix = gr.Dataframe(value=scalar_mix_table(models, names[0]), interactive=False, elem_id="ctx-mix")
    gr.on([model.change], _bind(scalar_mix_table, models), [model], [mix], api_name="scalar_mix")


def _scores_tab(models: Sequence[DemoModel]) -> None:
    table = score_table(models)
    labels = metric_labels(table)
    gr.Markdown(
        "Evaluation results stored with each model (`eval_results.json`, or its card's `model-index`)."
    )
    scores = gr.Dataframe(value=table, label="Evaluation results", interactive=False, elem_id="scores-table")
    metric = gr.Dropdown(labels, value=labels[0] if labels else None, label="Result to chart")
    chart = gr.BarPlot(value=score_chart(models, labels[0] if labels else None), x="model", y="value",
                       color="model", label="Across models", height=320)  # fmt: skip
    if labels:
        gr.Examples([[label] for label in labels[:3]], inputs=[metric], label="Examples")
    gr.on([metric.change], _bind(score_chart, models), [metric], [chart], api_name="score_chart")
    refresh = gr.Button("Read the results again (after `hf-embeddings evaluate DIR`)", size="sm")
    gr.on([refresh.click], _bind(reload_scores, models), None, [scores], api_name="scores")
    for dm in models:
        with gr.Accordion(f"Model card: {dm.name}", open=False):
            gr.Markdown(dm.card_text or "_This model folder has no model card._")


def build_demo(models: Sequence[DemoModel] | Sequence[str] | None = None) -> gr.Blocks:
    """The demo over `models` (loaded models, or folders / Hub ids; None: see `hf_embeddings.demo.models.resolve_sources`)."""
    if not models or all(isinstance(m, str) for m in models):
        models = load_models(list(models or []) or None)
    models = list(models)
    static = [m.name for m in models if m.is_static]
    lms = [m.name for m in models if m.can_generate]
    contextual = [m.name for m in models if m.is_contextual]
    ex = _examples(example_words(models))
    listing = ", ".join(f"**{m.name}** ({m.family or 'model'})" for m in models)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nLoaded: {listing}")
        with gr.Tabs():
            if static:
                with gr.Tab("Neighbours & analogies", id="neighbours"):
                    _neighbours_tab(models, static, ex)
                with gr.Tab("Map", id="map"):
                    _map_tab(models, static, ex)
            if lms:
                with gr.Tab("Next word", id="next-word"):
                    _next_word_tab(models, lms, ex)
            if contextual:
                with gr.Tab("Context", id="context"):
                    _context_tab(models, contextual)
            with gr.Tab("Model cards & scores", id="scores"):
                _scores_tab(models)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    return demo


def launch(
    models: Sequence[str] | None = None,
    *,
    port: int | None = None,
    host: str | None = None,
    **launch_kwargs: Any,
) -> gr.Blocks:
    """Load the models (failing with one clear error before any server starts), then serve the demo."""
    demo = build_demo(list(models or []) or None)
    demo.launch(server_name=host, server_port=port, **launch_kwargs)
    return demo


def main(argv: Sequence[str] | None = None) -> int:
    """`python app.py [DIRS or REPO IDS] [--port N] [--host H]` (a Space runs it with no arguments)."""
    parser = argparse.ArgumentParser(description="Gradio demo of hf_embeddings models")
    parser.add_argument(
        "models", nargs="*", help=f"model folders or Hub ids (default: ${ENV_VAR}, or ./outputs)"
    )
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default=None)
    args = parser.parse_args(argv)
    try:
        launch(args.models, port=args.port, host=args.host)  # None: Gradio reads GRADIO_SERVER_NAME/PORT
    except HFEmbeddingsError as e:
        print(f"hf-embeddings demo: error: {e}", file=sys.stderr)
        return 2
    return 0
