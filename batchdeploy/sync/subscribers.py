"""s3transfer subscribers (s3transfer.subscribers.BaseSubscriber, its documented extension point).

Imported only when a large file is transferred: s3transfer is not loaded by a sync that moves only
small files, or nothing."""

from __future__ import annotations

from s3transfer.subscribers import BaseSubscriber


class KnownObject(BaseSubscriber):
    """The size and ETag the listing already gave, handed to the transfer when it is queued
    (TransferMeta.provide_transfer_size / provide_object_etag, s3transfer 0.13+): s3transfer then
    needs no HEAD before a download, and every ranged GET carries If-Match with that ETag, so all
    parts come from one version of the object (a change under us fails the download; run again)."""

    def __init__(self, size: int, etag: str):
        self.size = size
        self.etag = etag

    def on_queued(self, future, **kwargs):
        future.meta.provide_transfer_size(self.size)
        if self.etag:
            future.meta.provide_object_etag(f'"{self.etag}"')


class ProgressSubscriber(BaseSubscriber):
    """Bytes moved by the transfer manager, added to the progress line."""

    def __init__(self, progress):
        self.progress = progress

    def on_progress(self, future, bytes_transferred, **kwargs):
        self.progress.add_bytes(bytes_transferred)
