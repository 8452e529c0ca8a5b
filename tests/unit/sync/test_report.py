"""The summary line."""

from __future__ import annotations

from batchdeploy.sync.report import summary_line


def test_summary_line():
    assert summary_line("uploaded", 12, 3_400_000, 1, 1988, 0.91, False) == (
        "uploaded 12 (3.4 MB), deleted 1, unchanged 1,988 in 0.9 s"
    )
    assert summary_line("upload", 2, 10, 0, 3, 0, True) == (
        "would upload 2 (10 B), would delete 0, unchanged 3 (dry run: nothing changed)"
    )
