"""--exclude patterns and safe keys."""

from __future__ import annotations

from batchdeploy.sync.exclude import DEFAULT_EXCLUDES, Excluder, safe_relkey


def test_excluder_defaults_match_components_at_any_depth():
    ex = Excluder(DEFAULT_EXCLUDES)
    for rel in (".git/config", "a/.git/HEAD", "pkg/__pycache__/m.pyc", "a/.x.swp", "notes~", ".#lock", "#auto#",
                "sub/.DS_Store"):
        assert ex.excluded(rel), rel
    for rel in ("a.yaml", "gitignore", "a/git/x", "tilde~x", "swp"):
        assert not ex.excluded(rel), rel


def test_excluder_paths_and_names():
    ex = Excluder(["*.log", "data/raw", "/tmp/"])
    assert ex.excluded("x.log") and ex.excluded("a/b/c.log")
    assert ex.excluded("data/raw/part-0.csv") and ex.excluded("data/raw")
    assert not ex.excluded("data/rawer/x") and not ex.excluded("other/data/raw/x")
    assert ex.excluded("tmp/x")  # edge slashes are ignored: a folder name
    assert ex.name("tmp") and ex.path("data/raw") and not ex.path("data")
    assert not Excluder([]).excluded("anything")


def test_safe_relkey():
    assert safe_relkey("a/b c/ü.txt")
    for bad in ("", "a//b", "./a", "a/../b", "..", "a/\0", "a\nb", "x/\x1b[2J", "c\u2028"):
        assert not safe_relkey(bad), bad
