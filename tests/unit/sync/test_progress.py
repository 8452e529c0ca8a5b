"""The progress line."""

from __future__ import annotations


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
    from batchdeploy.sync.progress import Progress
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
