"""sync's pure parts: addresses, exclusions, the comparison, the plan, the hash cache, the walk."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from batchdeploy import hashcache
from batchdeploy.errors import UsageError
from batchdeploy.sync import (
    DEFAULT_EXCLUDES,
    Excluder,
    Local,
    Remote,
    hash_files,
    lean_listing,
    make_plan,
    parse_s3_url,
    safe_relkey,
    same_content,
    scan_local,
    summary_line,
)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/experiments", ("bucket", "experiments")),
        ("s3://bucket/a/b/", ("bucket", "a/b")),
        ("s3://my.bucket-1//a/", ("my.bucket-1", "a")),
    ],
)
def test_parse_s3_url(url, expected):
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize("url", ["bucket/x", "https://bucket/x", "s3://B/x", "s3:///x", "s3://b/a//c", "s3://bb/a/../c"])
def test_parse_s3_url_rejects(url):
    with pytest.raises(UsageError):
        parse_s3_url(url)


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


def test_small_puts_do_not_wait_for_100_continue():
    import io

    from botocore.awsrequest import AWSRequest

    from batchdeploy.sync import EXPECT_SIZE, _no_expect_for_small

    for size, kept in ((0, False), (4096, False), (EXPECT_SIZE, True)):
        req = AWSRequest("PUT", "http://x/b/k", headers={"Expect": "100-continue"}, data=io.BytesIO(b"x" * size))
        _no_expect_for_small(req)
        assert ("Expect" in req.headers) is kept, size


def test_get_object_answers_skip_the_unused_last_modified():
    from botocore.awsrequest import HeadersDict

    from batchdeploy.sync import _skip_last_modified

    response = {"headers": HeadersDict({"Last-Modified": "Sat, 21 Nov 2026 13:00:00 GMT", "ETag": '"e"'})}
    _skip_last_modified(response)
    assert dict(response["headers"]) == {"ETag": '"e"'}
    _skip_last_modified({"headers": HeadersDict()})  # nothing to remove


def test_safe_relkey():
    assert safe_relkey("a/b c/ü.txt")
    for bad in ("", "a//b", "./a", "a/../b", "..", "a/\0"):
        assert not safe_relkey(bad), bad


def test_summary_line():
    assert summary_line("uploaded", 12, 3_400_000, 1, 1988, 0.91, False) == (
        "uploaded 12 (3.4 MB), deleted 1, unchanged 1,988 in 0.9 s"
    )
    assert summary_line("upload", 2, 10, 0, 3, 0, True) == (
        "would upload 2 (10 B), would delete 0, unchanged 3 (dry run: nothing changed)"
    )


# ---- the hash cache ----


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


# ---- the walk ----


def test_scan_reports_loops_broken_links_fifos_and_bad_names(tmp_path):
    root = tmp_path / "root"
    (root / "a/b").mkdir(parents=True)
    (root / "a/b/f.txt").write_text("f")
    (root / "a/b/up").symlink_to("../..")
    (root / "self").symlink_to("self")
    (root / "broken").symlink_to("nowhere")
    (root / "file-link").symlink_to("a/b/f.txt")
    os.mkfifo(root / "fifo")
    (root / ".git").mkdir()
    (root / ".git/x").write_text("x")
    (root / ".f.txt.0123abcd.bdpart").write_text("partial")
    os.close(os.open(os.path.join(os.fsencode(root), b"bad-\xff"), os.O_CREAT | os.O_WRONLY))
    warnings = []
    scan = scan_local(str(root), Excluder(DEFAULT_EXCLUDES), warnings.append)
    assert sorted(scan.files) == ["a/b/f.txt", "file-link"]
    assert scan.skipped == {"a/b/up", "self", "broken", "fifo", "bad-\udcff"}
    text = "\n".join(warnings)
    assert "a/b/up: symbolic link loop (-> ../..); not followed" in text
    assert "self: symbolic link loop; skipped" in text
    assert "broken: broken symbolic link (-> nowhere); skipped" in text
    assert "fifo: not a regular file" in text
    assert "bad-\\xff: the name is not valid UTF-8" in text
    assert [os.path.basename(p) for p in scan.stale_tmp] == [".f.txt.0123abcd.bdpart"]


def test_lean_listing_reads_contents_and_leaves_the_rest_to_botocore():
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Name>b</Name><IsTruncated>true</IsTruncated>"
        b"<Contents><Key>p/a%20b</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        b"<ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>"
        b"<NextContinuationToken>tok</NextContinuationToken></ListBucketResult>"
    )
    response = {"status_code": 200, "body": body}
    custom = {}
    lean_listing(response_dict=response, customized_response_dict=custom)
    assert custom["Contents"] == [
        {"Key": "p/a%20b", "Size": 12, "ETag": '"abc"', "LastModified": "2026-01-01T00:00:00.000Z",
         "StorageClass": "STANDARD"}
    ]
    assert b"<Contents>" not in response["body"] and b"<NextContinuationToken>tok" in response["body"]
    error = {"status_code": 403, "body": b"<Error><Code>AccessDenied</Code></Error>"}
    lean_listing(response_dict=error, customized_response_dict=(c := {}))
    assert c == {} and error["body"].startswith(b"<Error>")


class _Tty:
    def __init__(self, tty):
        self.tty = tty
        self.text = ""

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_only_on_a_terminal_and_not_quiet():
    from batchdeploy.sync import Progress
    from batchdeploy.ui import Output

    clock = iter(float(i) for i in range(100)).__next__
    err = _Tty(True)
    p = Progress(Output(stdout=_Tty(False), stderr=err), 2, 2000, clock=clock)
    p.add_bytes(1000)
    p.file_done()
    p.line("upload: a.txt")
    p.close()
    assert "1/2 files  1.0 kB/2.0 kB" in err.text and "upload: a.txt\n" in err.text
    assert err.text.endswith("\r\033[K")

    for out in (Output(stdout=_Tty(False), stderr=_Tty(False)), Output(quiet=True, stdout=_Tty(False), stderr=_Tty(True))):
        p = Progress(out, 2, 2000, clock=clock)
        p.add_bytes(5)
        p.line("upload: a.txt")
        p.close()
        assert "\r" not in out.stderr.text and "files" not in out.stderr.text
