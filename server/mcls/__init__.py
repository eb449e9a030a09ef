"""mcls: the matrix calculus language server."""

__version__ = "0.1.0"
