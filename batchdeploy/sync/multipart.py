"""No multipart upload of sync's is left open (S3 bills the parts of an open upload until it is aborted).

An open upload cannot say who started it: metadata and tags given to CreateMultipartUpload show only on
the completed object, and ListMultipartUploads names the AWS identity, not the program. So sync names
what it starts in a journal in the state folder (`sync-IDENT-uploads.json`, one per local folder and
prefix, beside the hash cache): the keys it is about to upload in parts, written before the first
CreateMultipartUpload and removed when the run has made sure none of them is left open.

- After the transfers (also when they failed or were interrupted), the open uploads of those keys are
  aborted: when CreateMultipartUpload's answer is lost after S3 made the upload, s3transfer's client
  asks again and uses the second upload id, and the first would stay open for good. (A completed
  upload is no longer listed; a failed one s3transfer has aborted already.)
- A run that was killed (SIGKILL, power loss) leaves its journal: the next sync-to-s3 of the same pair
  (not --dry-run) aborts the open uploads of the journal's keys before it uploads anything, so each
  one it aborts was started before it. A journal that cannot be read stands for every key below the
  prefix that is not excluded: the keys sync-to-s3 owns, as `--delete` does.

Open uploads of other keys (another tool's, or this project's from another folder or machine) are
left alone. A no-change sync reads no journal and makes no extra request. A sweep never fails the
sync: a refusal (no s3:ListBucketMultipartUploads or s3:AbortMultipartUpload) or a network failure
is one warning, and the journal stays for the next run.
"""

from __future__ import annotations

import json
import os

from batchdeploy.aws import convert
from batchdeploy.state import atomic_write

EVERY_OWNED_KEY = None  # what an unreadable journal stands for


class Journal:
    """The keys of the multipart uploads one (local folder, prefix) pair may have left open."""

    def __init__(self, path: str):
        self.path = path

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def read(self):
        """The set of keys, or EVERY_OWNED_KEY when the file is damaged (or says so)."""
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            keys = data.get("keys")
        except (OSError, ValueError, AttributeError):
            return EVERY_OWNED_KEY
        if data.get("every") or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            return EVERY_OWNED_KEY
        return set(keys)

    def write(self, keys) -> None:
        every = keys is EVERY_OWNED_KEY
        atomic_write(self.path, json.dumps({"keys": [] if every else sorted(keys), "every": every}))

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Uploads:
    """One sync-to-s3's use of the journal: `stale` at the start (only when a journal is there),
    `begin` before the transfers, `end` after them."""

    def __init__(self, path: str, opts, excluder):
        self.journal = Journal(path)
        self.opts = opts
        self.excluder = excluder
        self.carry = set()  # keys a sweep could not clear: kept in the journal for the next run
        self.problems: list[str] = []

    def stale(self, client) -> int:
        """What an earlier run of this pair left open, aborted; the number aborted."""
        if not self.journal.exists():
            return 0
        keys = self.journal.read()
        aborted, clean = sweep(client, self.opts, owner(self.opts, self.excluder, keys), self.problems.append)
        if clean:
            self.journal.remove()
        else:
            self.carry = keys
        return aborted

    def begin(self, keys) -> None:
        """Name the keys about to be uploaded in parts, before the first CreateMultipartUpload."""
        if keys:
            self.journal.write(EVERY_OWNED_KEY if self.carry is EVERY_OWNED_KEY else self.carry | set(keys))

    def end(self, client, keys, warn) -> int:
        """After the transfers: the open uploads of the journal's keys aborted; the number aborted."""
        if not self.journal.exists():
            return 0
        keys = EVERY_OWNED_KEY if self.carry is EVERY_OWNED_KEY else self.carry | set(keys)
        aborted, clean = sweep(client, self.opts, owner(self.opts, self.excluder, keys), warn)
        if clean:
            self.journal.remove()
        return aborted


def open_uploads(client, bucket: str, prefix: str) -> list[dict]:
    """Every open multipart upload below `prefix/` (the whole bucket for an empty prefix)."""
    kp = prefix + "/" if prefix else ""
    kwargs = {"Bucket": bucket, "Prefix": kp}
    found: list[dict] = []
    while True:
        page = client.list_multipart_uploads(**kwargs)
        found += [u for u in page.get("Uploads") or () if u.get("Key", "").startswith(kp)]
        if not page.get("IsTruncated"):
            return found
        kwargs.update(KeyMarker=page.get("NextKeyMarker", ""), UploadIdMarker=page.get("NextUploadIdMarker", ""))


def sweep(client, opts, owned, warn) -> tuple[int, bool]:
    """Abort the open uploads below the target prefix whose key `owned(key)` accepts:
    (how many were aborted, whether none of them is left open)."""
    try:
        uploads = [u for u in open_uploads(client, opts.bucket, opts.prefix) if owned(u["Key"])]
    except Exception as exc:  # noqa: BLE001 - a sweep never fails the sync
        warn(_line(exc, f"look for open multipart uploads in {opts.remote}"))
        return 0, False
    done, clean = 0, True
    for upload in uploads:
        try:
            client.abort_multipart_upload(Bucket=opts.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            done += 1
        except Exception as exc:  # noqa: BLE001
            line = _line(exc, f"abort the open multipart upload of {upload['Key']}")
            if "NoSuchUpload" not in line:  # finished or aborted meanwhile: nothing left open
                warn(line)
                clean = False
    return done, clean


def owner(opts, excluder, keys):
    """Which open uploads a sweep takes: the journal's keys, or every owned key for a damaged journal."""
    if keys is not EVERY_OWNED_KEY:
        return keys.__contains__
    kp = opts.prefix + "/" if opts.prefix else ""
    return lambda key: key.startswith(kp) and not excluder.excluded(key[len(kp):])


def _line(exc: BaseException, doing: str) -> str:
    ours = convert(exc, doing)
    return ours.line() if ours is not None else f"cannot {doing}: {type(exc).__name__}: {exc}"
