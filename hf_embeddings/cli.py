"""`hf-embeddings` command line: train | evaluate | query | convert | push | card | demo | quickstart.

Bad input (missing corpus, unknown model, bad option values, non-empty output folder ...) is reported
as one line on stderr with exit code 2, never a traceback.

The console script starts here through `hf_embeddings_cli`, which defers the package's `__init__` (it
imports transformers and torch to register the Auto classes, 4-5 s): `--help`, and `query` / `convert
export` on a Word2Vec or GloVe folder, read the folder with numpy (`hub.light_folder`); every other
command finishes the package import first (`finish_package_import`).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .errors import HFEmbeddingsError

EXIT_USAGE = 2


class CLIError(HFEmbeddingsError):
    pass


def _literal(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if low in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        return float(low)  # so that the error names the number, not the string
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_extra_options(extra: Sequence[str]) -> dict:
    """['--vector-size', '50', '--bf16', '--architecture=cbow'] -> {'vector_size': 50, 'bf16': True, ...}"""
    out: dict = {}
    i = 0
    while i < len(extra):
        tok = extra[i]
        if not tok.startswith("--") or len(tok) < 3:
            raise CLIError(f"unexpected argument {tok!r}")
        key, eq, value = tok[2:].partition("=")
        key = key.replace("-", "_")
        if eq:
            out[key] = _literal(value)
        elif i + 1 < len(extra) and not extra[i + 1].startswith("--"):
            out[key] = _literal(extra[i + 1])
            i += 1
        else:
            out[key] = True
        i += 1
    return out


def split_options(family, options: dict) -> tuple[dict, dict]:
    """Route free options to the model config or to TrainingArguments (`training.fit.route_options`)."""
    from .training.fit import route_options

    return route_options(family, options)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


#: `--normalization` values: `text.tokenization.UNICODE_NORMALIZATIONS` with None as "none" (written out
#: here because that module imports transformers; tests/test_cli.py checks that they agree)
NORMALIZATIONS = ("NFKC", "NFC", "NFKD", "NFD", "none")


def _normalization(text: str) -> str:
    value = "none" if text.lower() == "none" else text.upper()
    if value not in NORMALIZATIONS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(NORMALIZATIONS)}, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit 2, as for every other bad input
        raise CLIError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hf-embeddings", description="Classic word embeddings as Hugging Face models.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser(
        "train",
        help="train a model on a corpus",
        description="Train MODEL on a corpus. Model hyperparameters (e.g. --vector-size 50 --architecture cbow) "
        "and Trainer options (--epochs, --batch-size, --learning-rate, --bf16, any TrainingArguments field) "
        "pass through as --name value.",
    )
    t.add_argument("model", help="model family (see `hf-embeddings train --list`)", nargs="?")
    t.add_argument("--list", action="store_true", help="list the registered model families and exit")
    t.add_argument(
        "--corpus", default="default", help="text file/folder (.gz/.bz2/.xz), Hub dataset, or 'default'"
    )
    t.add_argument("--output-dir", help="where to write the model folder")
    t.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    t.add_argument("--min-count", type=_positive_int, help="drop words seen fewer times")
    t.add_argument("--max-vocab-size", type=_positive_int, help="keep only the N most frequent words")
    t.add_argument(
        "--max-final-vocab",
        type=_positive_int,
        metavar="N",
        help="raise --min-count until at most N words remain, as gensim's max_final_vocab (words tied at the "
        "limit all go)",
    )
    t.add_argument(
        "--keep-words",
        metavar="FILE",
        help="keep the words of FILE (UTF-8, one per line) whatever their count, as a gensim trim_rule "
        "returning RULE_KEEP; with --update-vocab, new words to add",
    )
    t.add_argument("--text-column", help="dataset column holding the text")
    t.add_argument(
        "--lowercase",
        action=argparse.BooleanOptionalAction,
        help="lowercase the text before counting words (default: on)",
    )
    t.add_argument(
        "--split-punctuation",
        action=argparse.BooleanOptionalAction,
        help="split punctuation off words, 'end.' -> 'end' '.' (default: on)",
    )
    t.add_argument(
        "--normalization",
        type=_normalization,
        metavar="{" + ",".join(NORMALIZATIONS) + "}",
        help="Unicode normalisation of the text (default: NFKC)",
    )
    t.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    t.add_argument(
        "--seed",
        type=int,
        default=42,
        help="random seed; with --deterministic (one thread) two runs give bitwise the same weights, without it "
        "Word2Vec's Hogwild threads make runs agree only statistically",
    )
    t.add_argument("--evaluate", action="store_true", help="run the family's evaluation suite after training")
    t.add_argument("--push-to-hub", metavar="REPO_ID", help="push the finished folder to the Hub")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument(
        "--eval-every-epoch",
        action="store_true",
        help="log the benchmark scores (WS-353, SimLex, analogies) after every epoch",
    )
    t.add_argument(
        "--replica-sync",
        default="auto",
        metavar="auto|adaptive|N",
        help="word2vec/glove under torchrun: exchange the processes' row updates every N steps (auto: word2vec "
        "every 131072 words per process, glove adaptive: the shortest interval that keeps the exchange under "
        "5%% of the training time)",
    )
    t.add_argument("--init-from", metavar="DIR", help="continue training the model saved in DIR on --corpus")
    t.add_argument(
        "--update-vocab",
        action="store_true",
        help="with --init-from: add the corpus's new words (seen >= --min-count times) to the vocabulary",
    )
    t.add_argument(
        "--checkpoint-dir",
        help="where --save-strategy steps|epoch writes checkpoints (default: OUTPUT_DIR.checkpoints, removed "
        "once the model is published); --resume-from-checkpoint latest|PATH continues a killed run",
    )

    e = sub.add_parser("evaluate", help="evaluate a saved model folder; writes eval_results.json")
    e.add_argument("path")

    q = sub.add_parser("query", help="nearest words, analogies and similarities from the shell")
    q.add_argument("path", help="model folder or Hub id")
    q.add_argument("words", nargs="*", help="words whose neighbours to show")
    q.add_argument("--analogy", nargs=3, metavar=("A", "B", "C"), help="a : b :: c : ?")
    q.add_argument("--similarity", nargs=2, metavar=("W1", "W2"))
    q.add_argument("--cosmul", action="store_true", help="3CosMul instead of 3CosAdd")
    q.add_argument("--topn", type=_positive_int, default=10)
    q.add_argument("--json", action="store_true", help="machine-readable output")

    c = sub.add_parser("convert", help="import vectors from / export vectors to other tools' formats")
    csub = c.add_subparsers(dest="convert_command", required=True, parser_class=_Parser)
    ci = csub.add_parser("import", help="word2vec (text/binary) or GloVe text file -> model folder")
    ci.add_argument("file")
    ci.add_argument("--output-dir", required=True)
    ci.add_argument("--format", choices=["auto", "word2vec", "word2vec-binary", "glove"], default="auto")
    ci.add_argument("--limit", type=_positive_int)
    ci.add_argument("--overwrite", action="store_true")
    ci.add_argument("--base-model", help="Hub id the vectors come from (model card metadata)")
    ci.add_argument("--license", help="licence of the vectors (model card metadata, e.g. apache-2.0)")
    ci.add_argument("--language", help="language code of the vectors (model card metadata, e.g. en)")
    ci.add_argument("--model", default="word2vec", help="family of the folder: word2vec (default) or glove")
    ci.add_argument(
        "--lowercase",
        action=argparse.BooleanOptionalAction,
        help="lowercase text before looking words up (default: when the vocabulary has no upper case)",
    )
    ci.add_argument(
        "--split-punctuation",
        action=argparse.BooleanOptionalAction,
        help="split punctuation off words (default: when ',' or '.' are words of the file)",
    )
    ci.add_argument(
        "--allow-non-finite",
        action="store_true",
        help="keep NaN/infinite values (a file with any is refused by default)",
    )
    ce = csub.add_parser(
        "export",
        help="model folder -> word2vec (text/binary) or GloVe text file, or a sentence-transformers / model2vec "
        "static-embedding folder (--format static)",
    )
    ce.add_argument("path")
    ce.add_argument("file", help="output file (output folder for --format static)")
    ce.add_argument(
        "--format", choices=["word2vec", "word2vec-binary", "glove", "static"], default="word2vec"
    )
    ce.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder (static)")
    cel = csub.add_parser(
        "elmo", help="original ELMo (bilm-tf / AllenNLP) options.json + weights.hdf5 -> model folder"
    )
    cel.add_argument("--options", required=True, help="options.json of the original model")
    cel.add_argument("--weights", required=True, help="weights.hdf5 of the original model")
    cel.add_argument("--output-dir", required=True)
    cel.add_argument("--overwrite", action="store_true")
    cel.add_argument("--license", help="licence of the weights (model card metadata)")
    cel.add_argument("--base-model", help="Hub id the weights come from (model card metadata)")
    cex = csub.add_parser("elmo-export", help="ELMo model folder -> original options.json + weights.hdf5")
    cex.add_argument("path")
    cex.add_argument("--options", required=True, help="options.json to write")
    cex.add_argument("--weights", required=True, help="weights.hdf5 to write")

    ps = sub.add_parser("push", help="push a model folder to the Hub in one commit")
    ps.add_argument("path")
    ps.add_argument("repo_id")
    ps.add_argument("--private", action="store_true")
    ps.add_argument(
        "--include-caches",
        action="store_true",
        help="also upload training caches (GloVe's co-occurrence matrix)",
    )

    cd = sub.add_parser("card", help="rewrite the model card (README.md) of a model folder from its contents")
    cd.add_argument("path")
    cd.add_argument("--repo-id", help="Hub id shown in the card's code examples")
    cd.add_argument("--license", help="licence (e.g. apache-2.0, cc-by-sa-3.0)")
    cd.add_argument("--language", help="language code (e.g. en)")
    cd.add_argument("--base-model", help="Hub id of the model the vectors come from")

    d = sub.add_parser(
        "demo",
        help="launch the Gradio demo on model folders or Hub ids",
        description="Serve the Gradio demo. Models: the arguments, else $HF_EMBEDDINGS_DEMO_MODELS (comma- or "
        "space-separated), else the folders `hf-embeddings quickstart` wrote under ./outputs.",
    )
    d.add_argument("models", nargs="*", help="model folders or Hub repo ids")
    d.add_argument(
        "--build-space",
        metavar="DIR",
        help="instead of serving, write a ready-to-push Hugging Face Space (app, package, requirements, models)",
    )
    d.add_argument(
        "--push", metavar="REPO_ID", help="with --build-space: upload the Space to this Space repo"
    )
    d.add_argument("--overwrite", action="store_true", help="with --build-space: replace DIR")
    d.add_argument("--port", type=int, default=7860)
    d.add_argument(
        "--host", default=None, help="address to listen on (default 127.0.0.1; 0.0.0.0 for everyone)"
    )

    qs = sub.add_parser(
        "quickstart",
        help="train small versions of every model on the bundled corpus, evaluate, write ./outputs",
    )
    qs.add_argument("--output-dir", default="outputs")
    qs.add_argument("--corpus", default="default")
    qs.add_argument("--models", nargs="*", help="subset of model families (default: all)")
    qs.add_argument("--device", default="auto")
    qs.add_argument("--overwrite", action="store_true", default=True, help=argparse.SUPPRESS)
    return p


def _version() -> str:
    from .version import __version__

    return f"hf-embeddings {__version__}"


def cmd_train(args, extra) -> int:
    from .api import train
    from .models.family import discover_families, get_family

    if args.list:
        for name, fam in sorted(discover_families().items()):
            print(f"{name:12s} {fam.description}")
        return 0
    if not args.model:
        raise CLIError("missing MODEL (see `hf-embeddings train --list`)")
    family = get_family(args.model)
    if not args.output_dir:
        raise CLIError("missing --output-dir")
    config, training = split_options(family, parse_extra_options(extra))
    for name in ("min_count", "max_vocab_size", "max_final_vocab", "keep_words"):
        if getattr(args, name) is not None:
            config[name] = getattr(args, name)
    result = train(
        args.model,
        args.corpus,
        args.output_dir,
        config=config,
        training=training,
        device=args.device,
        seed=args.seed,
        evaluate=args.evaluate,
        overwrite=args.overwrite,
        show_progress=not args.quiet,
        checkpoint_dir=args.checkpoint_dir,
        init_from=args.init_from,
        update_vocab=args.update_vocab,
        eval_every_epoch=args.eval_every_epoch,
        replica_sync=args.replica_sync,
        corpus_options=_corpus_options(args) or None,
    )
    from .training.distributed import is_main_process

    if not is_main_process():  # under torchrun the main process reports, and pushes, once
        return 0
    print(f"saved {args.model} to {result.output_dir} ({result.train_seconds:.1f} s)")
    if result.eval_results:
        print(json.dumps(result.eval_results, indent=2))
    if args.push_to_hub:
        from .hub.push import push_folder

        print(push_folder(result.output_dir, args.push_to_hub))
    return 0


def _corpus_options(args) -> dict:
    """The `load_corpus` options of `train` given on the command line (the others keep its defaults)."""
    options = {
        "text_column": args.text_column or None,
        "lowercase": args.lowercase,
        "split_punctuation": args.split_punctuation,
    }
    options = {k: v for k, v in options.items() if v is not None}
    if args.normalization is not None:
        options["unicode_normalization"] = None if args.normalization == "none" else args.normalization
    return options


def cmd_evaluate(args) -> int:
    from .api import evaluate_dir

    def progress(step: str) -> None:  # on stderr: stdout stays the JSON result alone
        print(f"hf-embeddings: {step} ...", file=sys.stderr, flush=True)

    print(json.dumps(evaluate_dir(args.path, progress=progress), indent=2))
    return 0


def _query_table(path: str) -> tuple[Any, Callable[[str], str]]:
    """The word table of folder `path` (read with numpy when `hub.light_folder` can, else loaded with its
    model) and how a typed word becomes one of its keys (`vectors.light.query_key`)."""
    from .hub.light_folder import read_light_folder
    from .vectors.light import query_key

    folder = read_light_folder(path)
    if folder is not None:
        kv = folder.keyed_vectors()
        return kv, lambda word: query_key(word, kv, folder.pre_tokenize, folder.normalize)
    finish_package_import()
    from .api import load

    model, tokenizer = load(path)
    if not hasattr(model, "wv"):
        raise CLIError(f"{path}: this model has no static word table to query")
    kv = model.wv
    normalizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "normalizer", None)

    def normalize(text: str) -> str:
        return normalizer.normalize_str(text) if normalizer is not None else text

    pre_tokenize = getattr(tokenizer, "pre_tokenize", None) or (lambda text: normalize(text).split())
    return kv, lambda word: query_key(word, kv, pre_tokenize, normalize)


def cmd_query(args) -> int:
    if not (args.words or args.analogy or args.similarity):
        raise CLIError("nothing to query: give words, --analogy A B C or --similarity W1 W2")
    kv, key = _query_table(args.path)
    out: dict = {}
    try:
        if args.analogy:
            a, b, c = (key(w) for w in args.analogy)
            fn = kv.most_similar_cosmul if args.cosmul else kv.most_similar
            out["analogy"] = fn(positive=[b, c], negative=[a], topn=args.topn)
        if args.similarity:
            out["similarity"] = kv.similarity(*(key(w) for w in args.similarity))
        for w in args.words:
            out[w] = kv.most_similar(positive=[key(w)], topn=args.topn)
    except KeyError as e:
        raise CLIError(str(e.args[0]) if e.args else str(e)) from None
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for name, value in out.items():
        if isinstance(value, float):
            print(f"{name}: {value:.4f}")
            continue
        print(f"{name}:")
        for word, score in value:
            print(f"  {word:20s} {score:.4f}")
    return 0


def cmd_convert(args) -> int:
    if args.convert_command == "export" and args.format != "static":
        from .hub.light_folder import read_light_folder, write_vector_file

        folder = read_light_folder(args.path)
        if folder is not None:
            write_vector_file(args.file, folder.words, folder.vectors, args.format)
            print(f"wrote {args.file}")
            return 0
    finish_package_import()
    from .hub.convert import export_vectors, import_vectors

    if args.convert_command in ("elmo", "elmo-export"):
        return _convert_elmo(args)
    if args.convert_command == "import":
        path = import_vectors(
            args.file,
            args.output_dir,
            fmt=args.format,
            limit=args.limit,
            overwrite=args.overwrite,
            base_model=args.base_model,
            license=args.license,
            language=args.language,
            model=args.model,
            allow_non_finite=args.allow_non_finite,
            lowercase=args.lowercase,
            split_punctuation=args.split_punctuation,
        )
        print(f"wrote {path}")
    else:
        export_vectors(args.path, args.file, fmt=args.format, overwrite=args.overwrite)
        print(f"wrote {args.file}")
    return 0


def _convert_elmo(args) -> int:
    from .hub.convert import convert_original
    from .models.elmo import export_original

    if args.convert_command == "elmo":
        path = convert_original(args.options, args.weights, args.output_dir, overwrite=args.overwrite,
                                license=args.license, base_model=args.base_model)  # fmt: skip
        print(f"wrote {path}")
        return 0
    from .api import load

    model, _ = load(args.path)
    if getattr(model.config, "model_type", None) != "hfe_elmo":
        raise CLIError(f"{args.path} is not an ELMo model folder")
    export_original(model, args.options, args.weights)
    print(f"wrote {args.options} and {args.weights}")
    return 0


def cmd_push(args) -> int:
    from .hub.push import push_folder

    print(push_folder(args.path, args.repo_id, private=args.private, include_caches=args.include_caches))
    return 0


def cmd_card(args) -> int:
    from pathlib import Path

    from .hub.card import write_model_card

    if not (Path(args.path) / "config.json").is_file():
        raise CLIError(f"{args.path} is not a saved model folder (no config.json)")
    options = {
        "repo_id": args.repo_id,
        "license": args.license,
        "language": args.language,
        "base_model": args.base_model,
    }
    print(f"wrote {write_model_card(args.path, **{k: v for k, v in options.items() if v})}")
    return 0


def cmd_demo(args) -> int:
    if args.build_space:
        from .demo.space import build_space, push_space

        out = build_space(args.build_space, args.models, overwrite=args.overwrite)
        print(f"wrote the Space to {out}")
        if args.push:
            print(f"pushed: {push_space(out, args.push)}")
        return 0
    if args.push:
        raise CLIError("--push needs --build-space DIR")
    try:
        from .demo.ui import launch
    except ImportError as e:
        if not (e.name or "").startswith("gradio"):
            raise
        raise CLIError(f"the demo needs gradio: pip install 'hf-embeddings[demo]' ({e})") from None
    launch(args.models, port=args.port, host=args.host)  # models are loaded (and checked) before serving
    return 0


def cmd_quickstart(args) -> int:
    from .quickstart import run_quickstart

    run_quickstart(args.output_dir, corpus=args.corpus, models=args.models, device=args.device)
    return 0


#: set on the package module by `hf_embeddings_cli` when it starts the command line before the package's
#: `__init__` has run
DEFERRED_INIT = "__hf_embeddings_deferred_init__"
#: commands that finish the package import themselves, only when a folder needs the full loader
LIGHT_COMMANDS = ("query", "convert")


def finish_package_import() -> None:
    """Run the package's `__init__` if the console script deferred it (`hf_embeddings_cli`): training,
    loading a folder through the Auto classes and the demo need the families registered."""
    package = sys.modules.get(__package__)
    if package is not None and vars(package).pop(DEFERRED_INIT, False):
        package.__spec__.loader.exec_module(package)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and args.command != "train":
            raise CLIError(f"unrecognized arguments: {' '.join(extra)}")
        if args.command not in LIGHT_COMMANDS:
            finish_package_import()
        handler = {
            "train": lambda: cmd_train(args, extra),
            "evaluate": lambda: cmd_evaluate(args),
            "query": lambda: cmd_query(args),
            "convert": lambda: cmd_convert(args),
            "push": lambda: cmd_push(args),
            "card": lambda: cmd_card(args),
            "demo": lambda: cmd_demo(args),
            "quickstart": lambda: cmd_quickstart(args),
        }[args.command]
        return handler()
    except HFEmbeddingsError as e:
        print(f"hf-embeddings: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("hf-embeddings: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
