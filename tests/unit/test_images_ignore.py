""".dockerignore patterns a user writes cannot hang the build (issue #14: never a hang)."""

from __future__ import annotations

import random
import time
import warnings

from batchdeploy.images import ignore


def test_many_stars_match_in_linear_time():
    """Before: `x*a*a*a*a*a*a*b` against `x` and 40 `a`s took 0.5 s, against 60 about 10 s (O(n^k))."""
    pattern = ignore.compile_pattern("x*a*a*a*a*a*a*b")
    started = time.monotonic()
    assert not pattern.match("x" + "a" * 5000)
    assert pattern.match("x" + "a" * 5000 + "b")
    assert time.monotonic() - started < 1


def test_the_linear_form_matches_exactly_what_the_plain_one_does(monkeypatch):
    rng = random.Random(14)
    plain = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # random brackets make odd sets
        patterns = ["".join(rng.choice("ab*?/.") for _ in range(rng.randint(1, 8))) for _ in range(1500)]
        fast = {p: ignore.compile_pattern(p) for p in patterns}
        monkeypatch.setattr(ignore, "_atomic", lambda tokens: tokens)
        plain = {p: ignore.compile_pattern(p) for p in patterns}
    for text, pattern in fast.items():
        for _ in range(10):
            path = "".join(rng.choice("ab/.x") for _ in range(rng.randint(0, 10)))
            assert pattern.match(path) == plain[text].match(path), (text, path)
