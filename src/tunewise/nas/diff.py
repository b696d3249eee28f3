"""What changed between two grammars, in words a user can act on.

Resuming a study refuses a changed grammar: its stored architectures may no longer derive, and the
counts and priors differ.
"""

from __future__ import annotations

from typing import Any

from tunewise.nas.grammar import Grammar


def _fmt(rhss: list[str]) -> str:
    return ", ".join(repr(r) for r in rhss)


def diff_grammars(old: Grammar, new: Grammar) -> list[str]:
    """Human-readable differences from ``old`` to ``new``; empty when equal."""
    a, b = old.to_dict(), new.to_dict()
    out: list[str] = []
    if a["start"] != b["start"]:
        out.append(f"grammar start changed from {a['start']!r} to {b['start']!r}")
    pa, pb = a["productions"], b["productions"]
    for nt in pa:
        if nt not in pb:
            out.append(f"grammar nonterminal {nt!r} was removed")
            continue
        removed = [r for r in pa[nt] if r not in pb[nt]]
        added = [r for r in pb[nt] if r not in pa[nt]]
        if removed:
            out.append(f"grammar productions of {nt!r} removed: {_fmt(removed)}")
        if added:
            out.append(f"grammar productions of {nt!r} added: {_fmt(added)}")
        if not removed and not added and pa[nt] != pb[nt]:
            out.append(f"grammar productions of {nt!r} reordered")
    out.extend(f"grammar nonterminal {nt!r} was added" for nt in pb if nt not in pa)
    out.extend(_changed("topology arity", a["topologies"], b["topologies"]))
    removed_p = [p for p in a["primitives"] if p not in b["primitives"]]
    added_p = [p for p in b["primitives"] if p not in a["primitives"]]
    if removed_p:
        out.append(f"grammar primitives removed: {removed_p}")
    if added_p:
        out.append(f"grammar primitives added: {added_p}")
    out.extend(_changed("depth limit", a["depth"], b["depth"]))
    out.extend(_changed("priors", a["priors"], b["priors"]))
    if a["confidence"] != b["confidence"]:
        out.append(f"grammar confidence changed from {a['confidence']!r} to {b['confidence']!r}")
    return out


def _changed(what: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [
        f"grammar {what} of {key!r} changed from {a.get(key)!r} to {b.get(key)!r}"
        for key in dict.fromkeys([*a, *b])
        if a.get(key) != b.get(key)
    ]
