"""The multipart journal and which open uploads a sweep takes (sync.multipart)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from batchdeploy.sync.exclude import Excluder
from batchdeploy.sync.multipart import EVERY_OWNED_KEY, Journal, Uploads, owner


def test_the_journal_round_trips_and_a_damaged_one_stands_for_every_owned_key(tmp_path):
    j = Journal(str(tmp_path / "j.json"))
    assert not j.exists()
    j.write({"p/b", "p/a"})
    assert j.read() == {"p/a", "p/b"}
    j.write(EVERY_OWNED_KEY)
    assert j.read() is EVERY_OWNED_KEY
    for damage in (b"{", b"[1]", b'{"keys": [1]}', b'{"keys": "p/a"}', b"\xff"):
        (tmp_path / "j.json").write_bytes(damage)
        assert j.read() is EVERY_OWNED_KEY
    j.remove()
    j.remove()  # twice is fine
    assert not j.exists()


@pytest.mark.parametrize("prefix, key, taken", [
    ("p", "p/a.bin", True),
    ("p", "p/.git/x", False),  # excluded: another tool's
    ("p", "q/a.bin", False),  # another prefix
    ("p", "p-old/a.bin", False),  # a sibling, not below
    ("", "a.bin", True),  # the bucket root is owned whole
])
def test_a_damaged_journal_takes_owned_keys_only(prefix, key, taken):
    opts = SimpleNamespace(prefix=prefix)
    assert owner(opts, Excluder([".git"]), EVERY_OWNED_KEY)(key) is taken
    assert owner(opts, Excluder([]), {"p/a.bin"})(key) is (key == "p/a.bin")


class FakeS3:
    def __init__(self, uploads, refuse=None):
        self.uploads = list(uploads)
        self.refuse = refuse
        self.aborted = []

    def list_multipart_uploads(self, **kwargs):
        if self.refuse:
            raise self.refuse
        return {"Uploads": [u for u in self.uploads if u["Key"].startswith(kwargs["Prefix"])], "IsTruncated": False}

    def abort_multipart_upload(self, Bucket, Key, UploadId):
        self.aborted.append(Key)


def test_no_journal_no_request_and_a_refused_sweep_keeps_the_journal(tmp_path):
    opts = SimpleNamespace(bucket="b", prefix="p", remote="s3://b/p/")
    up = Uploads(str(tmp_path / "j.json"), opts, Excluder([]))
    s3 = FakeS3([{"Key": "p/a.bin", "UploadId": "1"}], refuse=RuntimeError("no"))
    assert up.stale(s3) == 0 and up.problems == []  # no journal: nothing asked
    up.begin(["p/a.bin"])
    warned = []
    assert up.end(s3, ["p/a.bin"], warned.append) == 0
    assert warned and up.journal.exists()  # refused: kept for the next run
    s3.refuse = None
    assert Uploads(str(tmp_path / "j.json"), opts, Excluder([])).stale(s3) == 1
    assert s3.aborted == ["p/a.bin"] and not up.journal.exists()
