"""Training: the Trainer subclass and `fit` (corpus + family -> trained model)."""
