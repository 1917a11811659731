"""transformers pipelines (word-similarity, and those families register) and their lazy registration."""
