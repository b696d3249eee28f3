"""Derivation trees of a context-free architecture grammar and their canonical bracket strings.

An architecture is a derivation (Schrodi et al., "Construction of hierarchical neural architecture
search spaces based on context-free grammars", NeurIPS 2023; ALGORITHMS.md §7): each node is a
nonterminal expanded by one production, whose right-hand side is a terminal followed by its k
children. The canonical string writes only the terminals, in bracket form::

    Sequential3(conv3x3, id, Cell(conv1x1, id))

Nonterminals are implied by position; :meth:`tunewise.nas.Grammar.parse` recovers them. The
string is the value stored in a trial's ``config`` (plain JSON, never pickled).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tunewise.nas.errors import GrammarError

NAME = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True, slots=True)
class Derivation:
    """One node of a derivation tree: ``symbol`` expanded as ``terminal`` with ``children``.

    Immutable and hashable; equal trees compare equal. ``str(d)`` is the canonical string, kept
    once computed: mutation and crossover share every untouched subtree with the parent, so a
    child's string costs its changed path, not its size.
    """

    symbol: str
    terminal: str
    children: tuple[Derivation, ...] = ()
    _text: str | None = field(default=None, init=False, repr=False, compare=False)

    def __str__(self) -> str:
        text = self._text
        if text is None:
            if not self.children:
                text = self.terminal
            else:
                text = f"{self.terminal}({', '.join([str(c) for c in self.children])})"
            object.__setattr__(self, "_text", text)
        return text

    @property
    def production(self) -> tuple[str, ...]:
        """The production applied here: ``(terminal, *child symbols)``."""
        return (self.terminal, *(c.symbol for c in self.children))

    def size(self) -> int:
        """Number of nodes (nonterminal expansions) in the tree."""
        return 1 + sum(c.size() for c in self.children)


@dataclass(frozen=True, slots=True)
class RawTree:
    """A parsed bracket string before nonterminals are assigned; ``offset``: the name's index."""

    name: str
    children: tuple[RawTree, ...]
    offset: int
    bracketed: bool


_TOKEN = re.compile(r"\s*(?:([A-Za-z0-9_.\-]+)|([(),]))")


def parse_raw(text: str) -> RawTree:
    """Parse bracket syntax into a :class:`RawTree`; GrammarError names the offset."""
    tokens: list[tuple[str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            at = len(text) - len(text[pos:].lstrip())
            raise GrammarError(
                f"derivation {text!r}: unexpected character {text[at]!r} at offset {at}"
            )
        tokens.append((m.group(1) or m.group(2), m.start(m.lastindex or 1)))
        pos = m.end()
    i = 0

    def peek() -> tuple[str, int]:
        return tokens[i] if i < len(tokens) else ("", len(text))

    def node() -> RawTree:
        nonlocal i
        name, off = peek()
        if not NAME.fullmatch(name):
            what = repr(name) if name else "end of string"
            raise GrammarError(
                f"derivation {text!r}: expected a terminal at offset {off}, got {what}"
            )
        i += 1
        if peek()[0] != "(":
            return RawTree(name, (), off, False)
        i += 1
        children = [node()]
        while peek()[0] == ",":
            i += 1
            children.append(node())
        tok, toff = peek()
        if tok != ")":
            what = repr(tok) if tok else "end of string"
            raise GrammarError(
                f"derivation {text!r}: expected ',' or ')' at offset {toff}, got {what}"
            )
        i += 1
        return RawTree(name, tuple(children), off, True)

    tree = node()
    if i != len(tokens):
        tok, off = tokens[i]
        raise GrammarError(f"derivation {text!r}: unexpected {tok!r} at offset {off} after the end")
    return tree
