"""s3transfer subscribers (s3transfer.subscribers.BaseSubscriber, its documented extension point).

Imported only when a large file is transferred: s3transfer is not loaded by a sync that moves only
small files, or nothing."""

from __future__ import annotations

from s3transfer.subscribers import BaseSubscriber


class ProgressSubscriber(BaseSubscriber):
    """Bytes moved by the transfer manager, added to the progress line."""

    def __init__(self, progress):
        self.progress = progress

    def on_progress(self, future, bytes_transferred, **kwargs):
        self.progress.add_bytes(bytes_transferred)
