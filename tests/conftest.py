"""Shared fixtures: every test gets its own token-cache folder, so the user's cache is never touched."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def isolated_corpus_cache(tmp_path_factory, monkeypatch):
    """Point $HF_EMBEDDINGS_CACHE at a fresh folder for the test; returns that folder."""
    folder = tmp_path_factory.mktemp("hfe-cache")
    monkeypatch.setenv("HF_EMBEDDINGS_CACHE", str(folder))
    return folder


@pytest.fixture
def one_thread():
    """Run the test on one torch thread: where a test compares weights bit for bit, that is the
    guarantee (same shapes, same path, one thread); the numba Word2Vec kernel is Hogwild with several."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
