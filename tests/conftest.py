"""Shared fixtures: every test gets its own token-cache folder, so the user's cache is never touched."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings

# The fuzz tests draw the same examples on every run (CI must not fail on a case a different seed happens
# to find); HYPOTHESIS_PROFILE=explore draws new ones, for hunting defects locally.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
