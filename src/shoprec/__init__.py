"""shoprec: recommendations for online shops from catalog text and customer behaviour."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
