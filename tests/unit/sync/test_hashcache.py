"""The hash cache: hashes, ETags, self-checking entries."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from batchdeploy.sync import hashcache
from batchdeploy.sync.plan import same_content
from batchdeploy.sync.remote import Remote
from batchdeploy.sync.scan import Local, hash_files


def test_hash_file_small_and_multipart_etag(tmp_path):
    small = tmp_path / "s"
    small.write_bytes(b"hello")
    sha, etag, key = hashcache.hash_file(str(small), 5)
    assert sha == hashlib.sha256(b"hello").hexdigest() and etag == hashlib.md5(b"hello").hexdigest()
    assert key == hashcache.stat_key(small.stat())

    part = hashcache.PART_SIZE
    data = os.urandom(part) + os.urandom(part) + b"tail"
    big = tmp_path / "b"
    big.write_bytes(data)
    sha, etag, _ = hashcache.hash_file(str(big), len(data))
    parts = [data[:part], data[part : 2 * part], data[2 * part :]]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert etag == expected and sha == hashlib.sha256(data).hexdigest()
    assert hashcache.hash_file(str(big), len(data), etag=False)[:2] == (sha, "")  # sha256 only


def test_an_empty_etag_never_matches_and_a_cached_entry_without_one_is_reread_for_uploads(tmp_path):
    assert same_content(3, "s", "", Remote(3, ""), {}) is None
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    st = f.stat()
    cache = hashcache.HashCache(tmp_path / "state", str(tmp_path), "s3://b/p/")
    cache.store("f", hashcache.stat_key(st), hashlib.sha256(b"abc").hexdigest(), "", now_ns=st.st_mtime_ns + 10**10)
    cache.old_local = dict(cache.local)  # as the next run reads it
    files = {"f": Local(str(f), st)}
    assert hash_files(files, ["f"], cache, need_etag=False) == [] and files["f"].etag == ""
    assert hash_files(files, ["f"], cache) == [] and files["f"].etag == hashlib.md5(b"abc").hexdigest()


def test_part_size_follows_the_10000_part_limit():
    assert hashcache.part_size(10 * 2**20) == 8 * 2**20
    assert hashcache.part_size(8 * 2**20 * 10_000) == 8 * 2**20
    assert hashcache.part_size(8 * 2**20 * 10_000 + 1) == 16 * 2**20


def test_unreadable_file_is_reported(tmp_path):
    with pytest.raises(hashcache.UnreadableFile) as info:
        hashcache.hash_file(str(tmp_path / "missing"), 0)
    assert "No such file" in info.value.reason


def test_cache_round_trip_and_self_checking_entries(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    old = 1_600_000_000
    os.utime(f, (old, old))
    folder = tmp_path / "state"
    c = hashcache.HashCache(folder, "/root", "s3://b/p/")
    st = f.stat()
    assert c.lookup("f", st) is None
    c.store("f", hashcache.stat_key(st), "sha", "etag", now_ns=st.st_ctime_ns + 10 * 10**9)  # hashed later
    c.learn("etag", "sha")
    c.learn("gone", "sha2")
    assert c.save({"etag"}) is True
    assert c.save({"etag"}) is False  # nothing new: nothing written
    (written,) = folder.glob("sync-*.json")
    assert json.loads(written.read_text())["etags"] == {"etag": "sha"}  # ETags no longer listed drop out

    c2 = hashcache.HashCache(folder, "/root", "s3://b/p/")
    assert c2.lookup("f", st) == ("sha", "etag") and c2.etags == {"etag": "sha"}
    assert c2.save({"etag"}) is False

    f.write_text("y")  # same size; then the old mtime back: ctime still differs
    os.utime(f, (old, old))
    assert c2.lookup("f", f.stat()) is None
    assert hashcache.HashCache(folder, "/other", "s3://b/p/").lookup("f", st) is None


def test_racy_entries_are_not_cached(tmp_path):
    c = hashcache.HashCache(tmp_path, "/r", "s3://b/")
    now = 10**18
    c.store("fresh", [1, now - 10, now - 10, 1], "s", "e", now_ns=now)
    c.store("old", [1, now - 5 * 10**9, now - 5 * 10**9, 2], "s", "e", now_ns=now)
    c.store("unstable", [], "s", "e", now_ns=now)
    assert set(c.local) == {"old"}


def test_corrupt_cache_is_ignored(tmp_path):
    c = hashcache.HashCache(tmp_path, "/r", "s3://b/")
    c.learn("e", "s")
    c.save({"e"})
    (written,) = tmp_path.glob("sync-*.json")
    written.write_text("{not json")
    c = hashcache.HashCache(tmp_path, "/r", "s3://b/")
    assert c.etags == {} and c.old_local == {}


@pytest.mark.parametrize(
    "damage",
    [
        '"a string"',
        "[1, 2]",
        '{"version": 1, "local_root": "/r", "etags": [1]}',
        '{"version": 1, "local_root": "/r", "etags": {"e": 1}, "local": []}',
        '{"version": 1, "local_root": "/r", "local": {"f": 7, "g": [1, 2], "h": ["1", 2, 3, 4, "s", "e"]}}',
        '{"version": 1, "local_root": "/r", "local": {"f": [1, 2, 3, 4, null, "e"]}, "etags": null}',
        b"\xff\xfe{}",
    ],
)
def test_a_cache_of_the_wrong_shape_is_rebuilt_silently(tmp_path, damage):
    """Issue #13: the cache is only a cache; a damaged one (`"etags": [1]`) is dropped, never a traceback."""
    path = hashcache.HashCache.path_for(tmp_path, "/r", "s3://b/")
    with open(path, "wb") as fh:
        fh.write(damage if isinstance(damage, bytes) else damage.encode())
    c = hashcache.HashCache(tmp_path, "/r", "s3://b/")
    assert c.etags == {} and c.old_local == {}
    st = os.stat(path)
    assert c.lookup("f", st) is None
    c.learn("e", "s")
    assert c.save({"e"})
    assert hashcache.HashCache(tmp_path, "/r", "s3://b/").etags == {"e": "s"}


def test_good_entries_of_a_partly_damaged_cache_are_kept(tmp_path):
    path = hashcache.HashCache.path_for(tmp_path, "/r", "s3://b/")
    good = [1, 2, 3, 4, "sha", "etag"]
    with open(path, "w") as fh:
        json.dump({"version": 1, "local_root": "/r", "local": {"ok": good, "bad": [1]}, "etags": {"e": "s", "x": 2}}, fh)
    c = hashcache.HashCache(tmp_path, "/r", "s3://b/")
    assert c.old_local == {"ok": good} and c.etags == {"e": "s"}
