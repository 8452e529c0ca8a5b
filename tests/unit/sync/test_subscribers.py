"""The s3transfer subscribers: the listing's size and ETag handed over through the documented API."""

from __future__ import annotations

from types import SimpleNamespace

from s3transfer.futures import TransferMeta

from batchdeploy.sync.subscribers import KnownObject, ProgressSubscriber


def test_known_object_provides_size_and_quoted_etag_when_queued():
    meta = TransferMeta()
    KnownObject(17, "abc-3").on_queued(SimpleNamespace(meta=meta))
    assert meta.size == 17 and meta.etag == '"abc-3"'  # as a HEAD would have given it
    bare = TransferMeta()
    KnownObject(5, "").on_queued(SimpleNamespace(meta=bare))
    assert bare.size == 5 and bare.etag is None  # no ETag listed: s3transfer's own behaviour for it


def test_progress_subscriber_adds_bytes():
    got = []
    ProgressSubscriber(SimpleNamespace(add_bytes=got.append)).on_progress(None, 42)
    assert got == [42]
