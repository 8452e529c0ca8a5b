"""The local walk."""

from __future__ import annotations

import os

from batchdeploy.sync.exclude import DEFAULT_EXCLUDES, Excluder
from batchdeploy.sync.scan import scan_local


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


def test_names_with_control_characters_are_found_at_the_scan_and_reported_on_one_line(tmp_path):
    """Before: `a\\nb.txt` was sent to S3 (the request failed) and its error line was split in two."""
    root = tmp_path / "root"
    (root / "ok").mkdir(parents=True)
    (root / "ok" / "fine.txt").write_text("f")
    for name in ("new\nline.txt", "tab\tname", "esc\x1b[31m", "del\x7f", "sep\u2028x"):
        (root / name).write_text("x")
    (root / "dir\rname").mkdir()
    (root / "dir\rname" / "inner.txt").write_text("never walked into")
    warnings = []
    scan = scan_local(str(root), Excluder(DEFAULT_EXCLUDES), warnings.append)
    assert sorted(scan.files) == ["ok/fine.txt"]
    assert scan.skipped == {"new\nline.txt", "tab\tname", "esc\x1b[31m", "del\x7f", "sep\u2028x", "dir\rname"}
    assert all(len(w.splitlines()) == 1 and "\x1b" not in w for w in warnings), warnings
    assert "new\\nline.txt: the name holds a control character (newline, tab, escape ...); skipped" in warnings
    assert "dir\\rname: the name holds a control character (newline, tab, escape ...); skipped" in warnings
