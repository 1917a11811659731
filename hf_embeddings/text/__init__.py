"""Text: the word tokenizer and corpora (sources, vocabulary, the memory-mapped token-id cache)."""
