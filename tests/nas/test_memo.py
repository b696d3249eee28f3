"""The identity memo behind the operators' node tables and the cached subtree drawings."""

from __future__ import annotations

import pytest

from tunewise.nas import Derivation
from tunewise.nas.memo import IdentityMemo


def test_keys_are_identities_and_the_least_recently_used_goes_first() -> None:
    memo: IdentityMemo[str] = IdentityMemo(2)
    a, b, c = Derivation("S", "x"), Derivation("S", "x"), Derivation("S", "y")
    assert a == b and a is not b
    memo.put((a,), "a")
    assert memo.get(a) == "a" and memo.get(b) is None  # equal but not the same object
    memo.put((b,), "b")
    assert memo.get(a) == "a"  # a is now the most recently used
    memo.put((c,), "c")
    assert len(memo) == 2 and memo.get(b) is None and memo.get(a) == "a" and memo.get(c) == "c"
    memo.put((a, c), "pair")
    assert memo.get(a, c) == "pair" and memo.get(c, a) is None


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="size"):
        IdentityMemo(0)
