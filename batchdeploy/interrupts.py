"""SIGTERM as Ctrl-C, for both entry points (batchdeploy and pegasus-aws-batch)."""

from __future__ import annotations


def terminate_as_interrupt():
    """SIGTERM (a scheduler, `kill`, a CI runner stopping us) takes the Ctrl-C path: the same clean-up
    (temporary files, multipart uploads, child processes), the same one line, exit 130. Without it
    Python died at once, silently, mid-submit or mid-upload. Returns what puts the old handler back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, old)
