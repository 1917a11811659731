"""The package version, in a leaf module so that nothing needs the package root to read it."""

__version__ = "0.1.0"
