"""The comparison and the plan (pure)."""

from __future__ import annotations

import os

from batchdeploy.sync import hashcache
from batchdeploy.sync.exclude import DEFAULT_EXCLUDES, Excluder
from batchdeploy.sync.plan import make_plan, same_content
from batchdeploy.sync.remote import Remote
from batchdeploy.sync.scan import Local


def test_same_content():
    r = Remote(5, "abc")
    assert same_content(4, "s", "abc", r, {}) is False  # size decides first
    assert same_content(5, "s", "abc", r, {}) is True  # our ETag
    assert same_content(5, "s", "zzz", r, {"abc": "s"}) is True  # a known ETag with the same sha256
    assert same_content(5, "t", "zzz", r, {"abc": "s"}) is False
    assert same_content(5, "s", "zzz", r, {}) is None  # unknown: ask (large) or copy (small)


def _local(size, sha=None, etag=None):
    st = os.stat_result((0o100644, 1, 1, 1, 0, 0, size, 0, 0, 0))
    return Local("/x", st, sha, etag)


def test_plan_upload():
    big = hashcache.MULTIPART_THRESHOLD
    local = {
        "new": _local(3, "n", "e-new"),
        "same": _local(3, "s", "e-same"),
        "edited": _local(3, "s2", "e-edited"),
        "big-unknown": _local(big, "b", "mp-2"),
        "small-unknown": _local(3, "u", "e-u"),
        "skip/me": _local(1),
    }
    remote = {
        "same": Remote(3, "e-same"),
        "edited": Remote(3, "e-old"),
        "big-unknown": Remote(big, "other-2"),
        "small-unknown": Remote(3, "e-other"),
        "gone": Remote(1, "g"),
        "gone/excluded.swp": Remote(1, "g"),
        "protected": Remote(1, "p"),
        "loop/inside": Remote(1, "p"),
    }
    del local["skip/me"]
    plan = make_plan(local, remote, True, {"e-old": "s"}, Excluder(DEFAULT_EXCLUDES), {"protected", "loop"}, True)
    assert plan.copy == ["edited", "new", "small-unknown"]
    assert plan.ask == ["big-unknown"]
    assert plan.unchanged == 1
    assert plan.delete == ["gone"]
    assert make_plan(local, remote, True, {}, Excluder(), set(), False).delete == []


def test_plan_download_compares_the_other_way():
    remote = {"a": Remote(3, "ea"), "b": Remote(4, "eb")}
    local = {"a": _local(3, "sa", "ea"), "b": _local(3), "extra": _local(1)}
    plan = make_plan(remote, local, False, {}, Excluder(), set(), True)
    assert plan.copy == ["b"] and plan.unchanged == 1 and plan.delete == ["extra"]
