"""Word vectors: the gensim-style KeyedVectors query API, pooling, and the word2vec/GloVe file formats."""
