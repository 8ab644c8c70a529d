"""sharelake: a virtual data lake on three-party secure multi-party computation."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
