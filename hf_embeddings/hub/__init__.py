"""Hub folders: file names and atomic writes, saving and loading, model cards, remote code, push."""
