"""Shared fixtures: every test gets its own token-cache folder, so the user's cache is never touched."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_corpus_cache(tmp_path_factory, monkeypatch):
    """Point $HF_EMBEDDINGS_CACHE at a fresh folder for the test; returns that folder."""
    folder = tmp_path_factory.mktemp("hfe-cache")
    monkeypatch.setenv("HF_EMBEDDINGS_CACHE", str(folder))
    return folder
