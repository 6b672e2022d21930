"""The version, in a leaf module that imports nothing, so every room may read it."""

__version__ = "0.1.0"
