"""What the transfer manager's own requests answered, by key, so a large file needs no HEAD after
its transfer: CompleteMultipartUpload's ETag (the upload check), and the first ranged GET's headers
(the object's sha256 metadata and full size, the download check).

Both are read through botocore's documented event system (`provide-client-params`, `after-call`),
registered on the transfer manager's own client for the length of one batch of transfers."""

from __future__ import annotations

import threading

_GET_FIELDS = ("ETag", "Metadata", "ContentRange", "ServerSideEncryption", "SSECustomerAlgorithm")


class Answers:
    def __init__(self):
        self._by_key: dict[str, dict] = {}
        self._lock = threading.Lock()

    def pop(self, key: str) -> dict | None:
        with self._lock:
            return self._by_key.pop(key, None)

    def hooks(self, upload: bool) -> list[tuple[str, object]]:
        """(event, handler) pairs for the transfer manager's client."""
        if upload:
            return [("after-call.s3.CompleteMultipartUpload", self._completed)]
        # GetObject's parsed answer does not carry its key: the parameters hook puts it in the
        # request context, which the after-call hook receives.
        return [("provide-client-params.s3.GetObject", self._asked), ("after-call.s3.GetObject", self._got)]

    def _completed(self, parsed, **kwargs):
        if parsed.get("Key") and parsed.get("ETag"):
            with self._lock:
                self._by_key[parsed["Key"]] = {k: parsed[k] for k in ("ETag", "ServerSideEncryption") if k in parsed}

    @staticmethod
    def _asked(params, context, **kwargs):
        context["batchdeploy_key"] = params.get("Key")

    def _got(self, parsed, context, **kwargs):
        key = context.get("batchdeploy_key")
        if key and parsed.get("ContentRange") and parsed.get("ETag"):
            with self._lock:
                self._by_key.setdefault(key, {k: parsed[k] for k in _GET_FIELDS if k in parsed})
