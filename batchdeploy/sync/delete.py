"""--delete, last and only after every transfer succeeded: objects in DeleteObjects batches, or local
files (and the folders they leave empty, never the synced folder itself)."""

from __future__ import annotations

import os

from batchdeploy.aws.s3 import MAX_DELETE_KEYS
from batchdeploy.errors import OperationError
from batchdeploy.sync.calls import aws_call


def delete_remote(client, opts, rels: list[str], out, warn) -> int:
    done = 0
    for i in range(0, len(rels), MAX_DELETE_KEYS):
        batch = rels[i : i + MAX_DELETE_KEYS]
        with aws_call(f"delete from {opts.remote}", opts.bucket):
            resp = client.delete_objects(
                Bucket=opts.bucket, Delete={"Objects": [{"Key": opts.key(r)} for r in batch], "Quiet": True}
            )
        errors = resp.get("Errors") or []
        for err in errors:
            warn(f"cannot delete {err.get('Key')}: {err.get('Code')}: {err.get('Message')}")
        done += len(batch) - len(errors)
        for rel in batch if opts.verbose else ():
            out.note(f"delete: {opts.remote}{rel}")
        if errors:
            raise OperationError(f"{len(errors)} deletions were refused", hint="see the lines above")
    return done


def delete_local(opts, rels: list[str], local, cache, out) -> int:
    done = 0
    folders = set()
    for rel in rels:
        path = local[rel].path
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise OperationError(f"cannot delete {path}: {exc.strerror}") from None
        cache.forget(rel)
        done += 1
        if opts.verbose:
            out.note(f"delete: {rel}")
        folders.add(os.path.dirname(path))
    _remove_empty_folders(opts.local, folders)
    return done


def _remove_empty_folders(top: str, folders) -> None:
    """Folders the deletions left empty go too, up to (never including) the synced folder."""
    root = os.path.realpath(top)
    for folder in sorted(folders, key=len, reverse=True):
        while os.path.realpath(folder) != root and folder.startswith(top):
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = os.path.dirname(folder)
