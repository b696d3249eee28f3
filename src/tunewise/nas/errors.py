"""The one error type of architecture grammars."""

from __future__ import annotations


class GrammarError(ValueError):
    """An invalid grammar or derivation; the message names the symbol or offset at fault."""
