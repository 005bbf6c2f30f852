"""The TMA backend: the API behind Three Moves Ahead."""

__version__ = "0.1.0"
