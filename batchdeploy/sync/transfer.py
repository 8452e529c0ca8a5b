"""The transfers of one run: a bounded pool of uploads or downloads (large files through s3transfer's
manager), and what each success and failure does to the run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

from batchdeploy.errors import BatchdeployError, Interrupted
from batchdeploy.sync import download, upload
from batchdeploy.sync.answers import Answers
from batchdeploy.sync.calls import FATAL_CODES
from batchdeploy.sync.client import s3_client, transfer_manager
from batchdeploy.sync.hashcache import MULTIPART_THRESHOLD


class Transfers:
    """What the transfers share: the options, the output, the stop signal, and the tally."""

    def __init__(self, aws, opts, out, stop: threading.Event):
        self.aws = aws
        self.opts = opts
        self.out = out
        self.stop = stop
        self.progress = None
        self.failures: list[str] = []
        self.copied: list[str] = []
        self.copied_bytes = 0
        self.new_etags: set[str] = set()
        self.answers = Answers()
        self.lock = threading.Lock()
        self.interrupted = False  # Ctrl-C: what fails from then on is its consequence, not news

    def warn(self, text: str) -> None:
        if self.progress is not None:
            self.progress.warn(text)
        else:
            self.out.warn(text)

    def note(self, text: str) -> None:
        if self.progress is not None:
            self.progress.line(text)
        else:
            self.out.note(text)

    def failed(self, rel: str, exc: BaseException | str) -> None:
        from batchdeploy.aws import convert, error_code

        if self.interrupted:  # s3transfer cancels its transfers with CancelledError('KeyboardInterrupt()')
            return
        if isinstance(exc, str):
            line = exc
        elif isinstance(exc, BatchdeployError):
            line = exc.line()
            if getattr(exc, "code", "") in FATAL_CODES:
                self.stop.set()
        else:
            ours = convert(exc, f"{'upload' if self.opts.upload else 'download'} {rel}")
            line = ours.line() if ours is not None else f"{rel}: {exc}"
            if error_code(exc) in FATAL_CODES:
                self.stop.set()
        with self.lock:
            self.failures.append(line)
        self.warn(line)

    def done(self, rel: str, nbytes: int, what: str, etag: str) -> None:
        with self.lock:
            self.copied.append(rel)
            self.copied_bytes += nbytes
            self.new_etags.add(etag)
        if self.progress is not None:
            self.progress.copied(f"{what}: {rel}")

    def add_bytes(self, n: int) -> None:
        if self.progress is not None:
            self.progress.add_bytes(n)

    def subscribers(self) -> list:
        return self.progress.subscribers() if self.progress is not None else []

    def run(self, client, rels, local, remote, cache) -> None:
        """Copy `rels`, large files first (their parts then overlap with the many small files)."""
        if not rels:
            return
        opts = self.opts
        size = (lambda r: local[r].st.st_size) if opts.upload else (lambda r: remote[r].size)
        large = any(size(r) >= MULTIPART_THRESHOLD for r in rels)
        manager_client = s3_client(self.aws, opts.jobs, for_manager=True) if large else None
        manager = transfer_manager(manager_client, opts.jobs) if large else None
        hooks = self.answers.hooks(opts.upload) if large else []
        for event, hook in hooks:
            manager_client.meta.events.register(event, hook)
        one = upload.upload_one if opts.upload else download.download_one
        pool = ThreadPoolExecutor(opts.jobs, thread_name_prefix="sync")
        try:
            order = sorted(rels, key=lambda r: size(r) < MULTIPART_THRESHOLD)
            futures = [pool.submit(one, self, client, manager, rel, local, remote, cache) for rel in order]
            for future in as_completed(futures):
                future.result()
        except BaseException as exc:
            self.stop.set()
            self.interrupted = isinstance(exc, KeyboardInterrupt)
            if self.interrupted:  # progress (not with -q): the cancelling may take a moment
                self.note("interrupted: cancelling the transfers in flight (multipart uploads are aborted)")
            if manager is not None:
                # Cancel the manager's transfers first (their multipart uploads are aborted), so the
                # pool's threads waiting on them return. TransferManager.shutdown(cancel=True) passes
                # its arguments in the wrong order (s3transfer 0.19); leaving the manager as a context
                # manager with the exception is the documented path that cancels correctly.
                manager.__exit__(type(exc), exc, exc.__traceback__)
                manager = None
            pool.shutdown(wait=True, cancel_futures=True)
            if self.interrupted:
                raise Interrupted(
                    f"interrupted: {len(self.copied):,} of {len(rels):,} files copied, the transfers in flight "
                    "cancelled (multipart uploads aborted)", hint="nothing was deleted; run again to finish",
                ) from None
            raise
        finally:
            pool.shutdown(wait=True)
            if manager is not None:
                manager.shutdown()
            for event, hook in hooks:
                manager_client.meta.events.unregister(event, hook)
