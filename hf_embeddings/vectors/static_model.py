"""Word-vector queries for transformers models: :class:`StaticEmbeddingMixin` and the tokenizer it needs.

:class:`StaticEmbeddingMixin` gives any transformers ``PreTrainedModel`` with a word table a ``wv``
property (a :class:`~hf_embeddings.vectors.keyed_vectors.KeyedVectors` bound to the live table, special
tokens excluded) and the usual query methods. The word list comes from the attached tokenizer, or from
``AutoTokenizer`` at the model's ``name_or_path`` (:class:`TokenizerNotAvailableError` when neither works).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import torch

from ..errors import HFEmbeddingsError
from .keyed_vectors import KeyedVectors, tensor_key
from .pooling import PooledVector

__all__ = ["StaticEmbeddingMixin", "TokenizerNotAvailableError"]


class TokenizerNotAvailableError(HFEmbeddingsError):
    """A model's word list was needed but no tokenizer is attached or loadable."""


class StaticEmbeddingMixin:
    """Word-vector queries for a ``PreTrainedModel`` that owns a word table.

    Put it before ``PreTrainedModel`` in the bases. The word list comes from a tokenizer whose special
    tokens come first (``<unk> <pad> <s> </s>`` = ids 0..3); ``wv`` skips those rows, so
    ``restrict_vocab=N`` means the N most frequent real words.

    Override ``word_table`` when the word vectors are not the input embedding (GloVe: ``W + W~``), and
    then also ``word_table_version`` (a hashable that changes whenever the table does), because a freshly
    computed tensor cannot be tracked by its version counter.

    Example::

        >>> from hf_embeddings import WordTokenizer
        >>> from hf_embeddings.models.word2vec import Word2VecConfig, Word2VecModel
        >>> tok = WordTokenizer.train(["king king king king queen queen queen man man woman"], min_count=1)
        >>> model = Word2VecModel(Word2VecConfig(vocab_size=len(tok), vector_size=3)).attach_tokenizer(tok)
        >>> model.wv.index_to_key  # the tokenizer's words, special tokens (ids 0..3) left out
        ['king', 'queen', 'man', 'woman']
        >>> with torch.no_grad():  # the queries follow the live table
        ...     model.get_input_embeddings().weight[4:] = torch.tensor([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]])
        >>> model.most_similar(positive=["king", "woman"], negative=["man"], topn=1)
        [('queen', 0.959)]
    """

    def word_table(self) -> torch.Tensor:
        """The ``(vocab, dim)`` word table, rows aligned with tokenizer ids (default: input embeddings)."""
        return self.get_input_embeddings().weight

    def word_table_version(self) -> Hashable | None:
        """A hashable that changes with the table, or None to track ``word_table()``'s tensor itself."""
        return None

    def attach_tokenizer(self, tokenizer: Any) -> StaticEmbeddingMixin:
        """Use ``tokenizer`` for the word list and for sentence pre-tokenisation; returns ``self``.

        Example:

            model.attach_tokenizer(WordTokenizer.from_pretrained("out/w2v")).most_similar("cat")
        """
        # Stored in __dict__ so nn.Module does not see it (no submodule, not in state_dict).
        self.__dict__["_hfe_tokenizer"] = tokenizer
        self.__dict__.pop("_hfe_wv", None)
        return self

    def __getstate__(self) -> dict:
        # The cached ``wv`` holds closures bound to *this* model and a normalised copy of the table:
        # never pickle it, and never let a deepcopy keep querying the original model's weights.
        state = dict(super().__getstate__())
        state.pop("_hfe_wv", None)
        return state

    def _static_tokenizer(self) -> Any:
        tok = self.__dict__.get("_hfe_tokenizer")
        if tok is not None:
            return tok
        path = getattr(self, "name_or_path", "") or ""
        reason = "the model has no name_or_path (it was not loaded with from_pretrained)"
        if path:
            try:
                from transformers import AutoTokenizer

                # running as the remote code saved with a model (trust_remote_code): the tokenizer's code
                # comes from the same trusted folder, and hf_embeddings may not be installed
                remote = type(self).__module__.startswith("transformers_modules.")
                tok = (
                    AutoTokenizer.from_pretrained(path, trust_remote_code=True)
                    if remote
                    else AutoTokenizer.from_pretrained(path)
                )
            except Exception as exc:  # any failure means "no tokenizer available"
                reason = f"AutoTokenizer.from_pretrained({path!r}) failed: {type(exc).__name__}: {exc}"
            else:
                self.attach_tokenizer(tok)
                return tok
        raise TokenizerNotAvailableError(
            f"{type(self).__name__} needs its tokenizer to map words to rows, but none is attached and "
            f"{reason}. Call model.attach_tokenizer(tokenizer) first."
        )

    @property
    def wv(self) -> KeyedVectors:
        """A :class:`KeyedVectors` over the live word table, special-token rows excluded (cached)."""
        tok = self._static_tokenizer()
        n_tok = len(tok)
        cached = self.__dict__.get("_hfe_wv")
        if cached is not None and cached[0] is tok and cached[1] == n_tok:
            return cached[2]
        special = {int(i) for i in getattr(tok, "all_special_ids", [])}
        word_ids = [i for i in range(n_tok) if i not in special]
        n_rows = int(self.word_table().shape[0])
        if n_rows < n_tok:
            raise HFEmbeddingsError(f"the word table has {n_rows} rows but the tokenizer has {n_tok} tokens")
        words = [str(w) for w in tok.convert_ids_to_tokens(word_ids)]
        first = word_ids[0] if word_ids else n_tok
        index = None if word_ids == list(range(first, n_tok)) else torch.tensor(word_ids)

        def source() -> torch.Tensor:
            table = self.word_table()
            return table[first:n_tok] if index is None else table[index.to(table.device)]

        def version() -> Hashable:
            # keyed on the whole table (or the model's own version), so a gathered copy is fine too
            v = self.word_table_version()
            return ("v", v) if v is not None else tensor_key(self.word_table())

        counts = getattr(tok, "word_counts", None)
        if counts is not None:
            counts = np.asarray(counts)[word_ids]
        tokenize = getattr(tok, "pre_tokenize", None)
        kv = KeyedVectors(
            source,
            words,
            counts=counts,
            tokenize=tokenize,
            version=version,
        )
        self.__dict__["_hfe_wv"] = (tok, n_tok, kv)
        return kv

    def __contains__(self, word: object) -> bool:
        return word in self.wv

    def get_word_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """See :meth:`KeyedVectors.get_word_vector`."""
        return self.wv.get_word_vector(word, norm=norm)

    def most_similar(self, *args: Any, **kwargs: Any) -> list[tuple[str, float]] | np.ndarray:
        """See :meth:`KeyedVectors.most_similar`."""
        return self.wv.most_similar(*args, **kwargs)

    def most_similar_cosmul(self, *args: Any, **kwargs: Any) -> list[tuple[str, float]] | np.ndarray:
        """See :meth:`KeyedVectors.most_similar_cosmul`."""
        return self.wv.most_similar_cosmul(*args, **kwargs)

    def similarity(self, w1: str, w2: str) -> float:
        """See :meth:`KeyedVectors.similarity`."""
        return self.wv.similarity(w1, w2)

    def doesnt_match(self, words: Iterable[str]) -> str:
        """See :meth:`KeyedVectors.doesnt_match`."""
        return self.wv.doesnt_match(words)

    def words_closer_than(self, w1: str, w2: str) -> list[str]:
        """See :meth:`KeyedVectors.closer_than`."""
        return self.wv.words_closer_than(w1, w2)

    def sentence_vector(self, *args: Any, **kwargs: Any) -> PooledVector:
        """See :meth:`KeyedVectors.sentence_vector`."""
        return self.wv.sentence_vector(*args, **kwargs)

    def sentence_vectors(self, *args: Any, **kwargs: Any) -> np.ndarray:
        """See :meth:`KeyedVectors.sentence_vectors`."""
        return self.wv.sentence_vectors(*args, **kwargs)


class StaticEmbeddingHeadMixin(StaticEmbeddingMixin):
    """For a training head that holds its static base model under `base_model_prefix`: the input
    embeddings and the word table are the base's, so the head answers the same queries."""

    def _static_base(self):
        return getattr(self, self.base_model_prefix)

    def get_input_embeddings(self):
        return self._static_base().get_input_embeddings()

    def set_input_embeddings(self, value) -> None:
        self._static_base().set_input_embeddings(value)

    def word_table(self):
        return self._static_base().word_table()

    def word_table_version(self):
        return self._static_base().word_table_version()
