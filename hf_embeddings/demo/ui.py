"""The Gradio app: widgets wired to the query modules of `hf_embeddings.demo`, one tab per capability of
the loaded models.

A tab appears only when some loaded model can answer it (a static word table, a language-model head,
contextual embeddings), so the app works with whichever model families exist. Placeholders and examples
come from the models' vocabularies (`examples.demo_examples`), so what a field suggests answers.

Bad input never reaches the user as a stack trace. In the page, a problem is one line in the status
Markdown under the button (escaped, in place of the answer): no toast covers the controls, no output turns
into an error badge. An API client (`gradio_client`, MCP: they send `x-gradio-user`) gets the same message
as an error (`AppError`), so a script cannot mistake a refused query for an empty answer. Requests go
through Gradio's queue.
"""

from __future__ import annotations

import argparse
import functools
import html
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from ..errors import HFEmbeddingsError
from . import markdown
from .context import context_neighbours, context_similarity, scalar_mix_table
from .examples import DemoExamples, demo_examples
from .inputs import MAX_NEIGHBOURS_PER_WORD, MAX_NEW_TOKENS, MAX_SENTENCES, MAX_TOPN, MAX_WORDS
from .models import ENV_VAR, DemoModel, load_models
from .neighbours import ANALOGY_METHODS, analogy, neighbours, odd_one_out, similarity
from .next_word import generate, next_words
from .projection import available_projections, draw_map
from .scores import bar_limits, card_markdown, metric_labels, reload_scores, score_chart, score_table

logger = logging.getLogger(__name__)

TITLE = "hf_embeddings: classic word embeddings"
CONCURRENCY = 4  # requests served at once (the rest wait in the queue)
API_CLIENTS = frozenset({"api", "mcp"})  # x-gradio-user of gradio_client and Gradio's MCP server


def _from_api_client(request: gr.Request | None) -> bool:
    headers = getattr(request, "headers", None) or {}
    return headers.get("x-gradio-user", "") in API_CLIENTS


def _bind(fn: Callable[..., Any], models: Sequence[DemoModel], n_outputs: int = 0) -> Callable[..., Any]:
    """`fn(models, *inputs)` as a Gradio handler whose failures are friendly messages.

    With `n_outputs`, `fn` returns (outputs..., note lines) and the last output is the status Markdown:
    the notes are escaped into it, and in the page a problem is shown there (the other outputs cleared)
    instead of as a toast. For an API client a problem is raised as `gr.Error`, and without a status
    Markdown (controls whose choices Gradio checks first) it is an escaped toast that goes away.
    """

    def fail(request: gr.Request | None, message: str) -> Any:
        if _from_api_client(request):
            raise gr.Error(message, print_exception=False)
        if not n_outputs:  # a toast renders HTML: escaped, and gone after a while
            raise gr.Error(html.escape(message), duration=8, print_exception=False)
        return (*[None] * (n_outputs - 1), markdown.problem(message))

    @functools.wraps(fn)
    def handler(request: gr.Request, *inputs: Any) -> Any:
        try:
            result = fn(models, *inputs)
        except HFEmbeddingsError as e:  # DemoInputError and the library's own one-line errors
            return fail(request, str(e))
        except Exception as e:  # a bug: log it, show one line
            logger.exception("demo handler %s failed", fn.__name__)
            return fail(request, f"Sorry, that query failed ({type(e).__name__}: {e}).")
        if n_outputs:
            return (*result[:-1], markdown.notes(result[-1]))
        return result

    # Gradio names the API parameters after the signature (fn's, without `models`) and passes the request
    # to the parameter annotated gr.Request
    params = list(inspect.signature(fn).parameters.values())[1:]
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
    handler.__signature__ = inspect.Signature([request, *params])
    handler.__annotations__ = {"request": gr.Request}
    return handler


def _status(elem_id: str | None = None) -> gr.Markdown:
    """The line under a button: notes about the answer, or the problem with the query (escaped text)."""
    return gr.Markdown(elem_id=elem_id, elem_classes=["status"], latex_delimiters=[])


def _with_table(fn: Callable[..., tuple]) -> Callable[..., tuple]:
    """(frame, notes) -> (the frame for a table, the same frame for a chart, notes)."""

    @functools.wraps(fn)
    def both(*args: Any) -> tuple:
        frame, notes = fn(*args)
        return frame, frame, notes

    return both


def _examples(values: Sequence[str], field: gr.components.Component) -> None:
    """Clickable examples for one field (none when the models gave nothing to suggest)."""
    if values:
        gr.Examples([[v] for v in values], inputs=[field], label="Examples")


def _first(values: Sequence[str], default: str) -> str:
    return values[0] if values else default


def _neighbours_tab(models: Sequence[DemoModel], names: list[str], ex: DemoExamples) -> None:
    chosen = gr.CheckboxGroup(names, value=names, label="Models (results side by side)", elem_id="nb-models")
    gr.Markdown(
        "### Nearest words\nThe *count* columns say how often each word occurred in training: "
        "the rarer the word, the less its neighbours mean."
    )
    with gr.Row():
        word = gr.Textbox(
            label="Word (several words: their mean)",
            placeholder=_first(ex.words, ""),
            elem_id="nb-word",
            scale=3,
        )
        topn = gr.Slider(1, MAX_TOPN, value=10, step=1, label="How many", scale=1)
    run = gr.Button("Find nearest words", variant="primary", elem_id="nb-run")
    _examples(ex.words, word)
    notes = _status("nb-notes")
    table = gr.Dataframe(label="Nearest words (cosine similarity)", headers=["rank", *names],
                         interactive=False, elem_id="nb-table")  # fmt: skip
    gr.on([run.click, word.submit], _bind(neighbours, models, 2), [chosen, word, topn], [table, notes],
          api_name="neighbours")  # fmt: skip

    gr.Markdown("### Analogy a : b :: c : ?")
    with gr.Row():
        question = gr.Textbox(label="a : b :: c", placeholder=_first(ex.analogies, "a : b :: c"),
                              elem_id="an-text", scale=3)  # fmt: skip
        method = gr.Radio(list(ANALOGY_METHODS), value="3CosAdd", label="Method", scale=1)
    run = gr.Button("Solve", elem_id="an-run")
    _examples(ex.analogies, question)
    notes = _status("an-notes")
    table = gr.Dataframe(label="Answers", headers=["rank", *names], interactive=False, elem_id="an-table")
    gr.on([run.click, question.submit], _bind(analogy, models, 2), [chosen, question, method, topn],
          [table, notes], api_name="analogy")  # fmt: skip

    with gr.Row():
        with gr.Column():
            gr.Markdown("### Similarity of two words")
            pair = gr.Textbox(label="Two words", placeholder=_first(ex.pairs, ""), elem_id="sim-text")
            run = gr.Button("Compare", elem_id="sim-run")
            _examples(ex.pairs, pair)
            notes = _status("sim-notes")
            table = gr.Dataframe(label="Cosine similarity", headers=["model", "cosine"], interactive=False,
                                 elem_id="sim-table")  # fmt: skip
            gr.on([run.click, pair.submit], _bind(similarity, models, 2), [chosen, pair], [table, notes],
                  api_name="similarity")  # fmt: skip
        with gr.Column():
            gr.Markdown("### Odd one out")
            group = gr.Textbox(
                label="Three or more words", placeholder=_first(ex.groups, ""), elem_id="odd-text"
            )
            run = gr.Button("Which one does not belong?", elem_id="odd-run")
            _examples(ex.groups, group)
            notes = _status("odd-notes")
            table = gr.Dataframe(label="Odd one out", headers=["model", "odd one out"], interactive=False,
                                 elem_id="odd-table")  # fmt: skip
            gr.on([run.click, group.submit], _bind(odd_one_out, models, 2), [chosen, group], [table, notes],
                  api_name="odd_one_out")  # fmt: skip


def _map_tab(models: Sequence[DemoModel], names: list[str], ex: DemoExamples) -> None:
    gr.Markdown(
        "Typed words and their nearest neighbours in 2-D, coloured by the typed word they belong to "
        "(hover a point for its word and corpus count)."
    )
    with gr.Row():
        model = gr.Dropdown(names, value=names[0], label="Model")
        methods = available_projections()
        method = gr.Radio(
            methods, value="PCA", label="Projection (t-SNE with scikit-learn, UMAP with umap-learn)"
        )
        k = gr.Slider(0, MAX_NEIGHBOURS_PER_WORD, value=8, step=1, label="Neighbours per word")
    words = gr.Textbox(
        label=f"Words (up to {MAX_WORDS})", placeholder=_first(ex.maps, ""), elem_id="map-words"
    )
    run = gr.Button("Draw the map", variant="primary", elem_id="map-run")
    _examples(ex.maps, words)
    notes = _status("map-notes")
    plot = gr.HTML(elem_id="map-plot", js_on_load=None, min_height=120)
    with gr.Accordion("Points", open=False):
        points = gr.Dataframe(headers=["x", "y", "word", "group", "typed"], interactive=False,
                              elem_id="map-points")  # fmt: skip
    gr.on([run.click, words.submit], _bind(draw_map, models, 3), [model, words, k, method],
          [plot, points, notes], api_name="map")  # fmt: skip


def _next_word_tab(models: Sequence[DemoModel], names: list[str], ex: DemoExamples) -> None:
    model = gr.Dropdown(names, value=names[0], label="Language model")
    gr.Markdown("### Next word")
    with gr.Row():
        prompt = gr.Textbox(label="Prompt", placeholder=_first(ex.prompts, ""), elem_id="nw-prompt",
                            scale=3)  # fmt: skip
        top_k = gr.Slider(1, MAX_TOPN, value=10, step=1, label="Top k", scale=1)
    run = gr.Button("Predict the next word", variant="primary", elem_id="nw-run")
    _examples(ex.prompts, prompt)
    notes = _status("nw-notes")
    with gr.Row():
        table = gr.Dataframe(label="Next words", headers=["word", "probability"], interactive=False,
                             elem_id="nw-table")  # fmt: skip
        chart = gr.BarPlot(x="word", y="probability", sort="-y", y_lim=[0, None], label="Probability",
                           height=360, elem_id="nw-chart")  # fmt: skip
    gr.on([run.click, prompt.submit], _bind(_with_table(next_words), models, 3), [model, prompt, top_k],
          [table, chart, notes], api_name="next_word")  # fmt: skip

    gr.Markdown("### Continue the text")
    with gr.Row():
        length = gr.Slider(1, MAX_NEW_TOKENS, value=15, step=1, label="Words to generate")
        sample = gr.Checkbox(value=False, label="Sample (otherwise greedy)")
        temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature")
        seed = gr.Number(value=0, precision=0, label="Seed")
    run = gr.Button("Generate", elem_id="gen-run")
    text = gr.Textbox(label="Continuation", interactive=False, elem_id="gen-text")
    notes = _status("gen-notes")
    gr.on([run.click], _bind(generate, models, 2), [model, prompt, length, sample, temperature, seed],
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
    notes = _status("ctx-notes")
    table = gr.Dataframe(label="Cosine similarity per layer", headers=["layer", "cosine"], interactive=False,
                         elem_id="ctx-table")  # fmt: skip
    gr.on([run.click], _bind(context_similarity, models, 2), [model, word, first, second], [table, notes],
          api_name="context_similarity")  # fmt: skip

    gr.Markdown("### Nearest tokens in context")
    with gr.Row():
        n_word = gr.Textbox(label="Word", value="bank", scale=1, elem_id="ctxn-word")
        sentence = gr.Textbox(label="Its sentence", value="he sat on the bank of the river", scale=3,
                              elem_id="ctxn-sentence")  # fmt: skip
    candidates = gr.Textbox(
        label=f"Sentences to search (one per line, up to {MAX_SENTENCES})", lines=4, elem_id="ctxn-candidates",
        value="the river bank was muddy\nthe bank raised its interest rates\nwe walked along the shore",
    )  # fmt: skip
    with gr.Row():
        layer = gr.Slider(0, 2, value=2, step=1, label="Layer")
        topn = gr.Slider(1, MAX_TOPN, value=8, step=1, label="How many")
    run = gr.Button("Find nearest tokens", elem_id="ctxn-run")
    notes = _status("ctxn-notes")
    table = gr.Dataframe(label="Nearest tokens", headers=["token", "cosine", "sentence", "in context"],
                         interactive=False, wrap=True, elem_id="ctxn-table")  # fmt: skip
    gr.on([run.click], _bind(context_neighbours, models, 2), [model, n_word, sentence, candidates, layer, topn],
          [table, notes], api_name="context_neighbours")  # fmt: skip

    gr.Markdown(
        "### Scalar-mix weights\nHow much each layer counts in the learned mixes (softmax weights, scale gamma)."
    )
    mix = gr.Dataframe(value=scalar_mix_table(models, names[0]), interactive=False, elem_id="ctx-mix")
    gr.on([model.change], _bind(scalar_mix_table, models), [model], [mix], api_name="scalar_mix")


def _chart_axis(models: Sequence[DemoModel], label: str | None) -> dict:
    """The score chart's axis from 0 (one model's perplexity is still a bar) and its title.

    Sent after the data, in a second update: Gradio 6 redraws a plot whose properties change from the data
    it held before the update, so data and axis changed together would show the new axis on the old bars.
    """
    return gr.update(y_lim=bar_limits(score_chart(models, label)["value"]), title=label or None)


def _scores_tab(models: Sequence[DemoModel]) -> None:
    table = score_table(models)
    labels = metric_labels(table)
    gr.Markdown(
        "Evaluation results stored with each model (`eval_results.json`, or its card's `model-index`)."
    )
    # wrapped cells in set widths: the details column shows its whole text
    widths = ["11%", "20%", "19%", "9%", "27%", "14%"]
    scores = gr.Dataframe(value=table, label="Evaluation results", interactive=False, wrap=True,
                          column_widths=widths, elem_id="scores-table")  # fmt: skip
    metric = gr.Dropdown(labels, value=labels[0] if labels else None, label="Result to chart",
                         elem_id="scores-metric")  # fmt: skip
    first = score_chart(models, labels[0] if labels else None)
    chart = gr.BarPlot(value=first, x="model", y="value", y_lim=bar_limits(first["value"]),
                       title=labels[0] if labels else None, label="Across models", height=320,
                       elem_id="scores-chart")  # fmt: skip
    if labels:
        _examples(labels[:3], metric)
    gr.on([metric.change], _bind(score_chart, models), [metric], [chart], api_name="score_chart").then(
        _bind(_chart_axis, models), [metric], [chart], api_visibility="private"
    )
    refresh = gr.Button("Read the results again (after `hf-embeddings evaluate DIR`)", size="sm")
    gr.on([refresh.click], _bind(reload_scores, models), None, [scores], api_name="scores")
    for i, dm in enumerate(models):
        text, files = card_markdown(dm)
        if files:  # the card's own files (its loss curve), and nothing else of the folder
            gr.set_static_paths(files)
        with gr.Accordion(f"Model card: {dm.name}", open=False, elem_id=f"card-{i}"):
            gr.Markdown(text or "_This model folder has no model card._", elem_classes=["model-card"])


def _listing(models: Sequence[DemoModel]) -> str:
    """'**word2vec** (8,550 words), **my-glove** (glove, 8,550 words)': the family only when the name
    does not already say it."""
    parts = []
    for m in models:
        about = [m.family] if m.family and m.family != m.name else []
        if m.vocabulary:
            about.append(f"{len(m.vocabulary):,} words")
        parts.append(
            f"**{markdown.escape(m.name)}**" + (f" ({markdown.escape(', '.join(about))})" if about else "")
        )
    return ", ".join(parts)


def build_demo(models: Sequence[DemoModel] | Sequence[str] | None = None) -> gr.Blocks:
    """The demo over `models` (loaded models, or folders / Hub ids; None: see `hf_embeddings.demo.models.resolve_sources`)."""
    if not models or all(isinstance(m, str) for m in models):
        models = load_models(list(models or []) or None)
    models = list(models)
    static = [m.name for m in models if m.is_static]
    lms = [m.name for m in models if m.can_generate]
    contextual = [m.name for m in models if m.is_contextual]
    ex = demo_examples(models)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nLoaded: {_listing(models)}", elem_id="loaded")
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
