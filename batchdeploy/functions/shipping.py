"""What a submit ships: the function once and each call's arguments (payload.py pickles them, names
what cannot be pickled, and holds the size limit), as the manifest's `call` objects and the S3 objects
they point at (content-addressed: a second map of the same function uploads nothing for it).

Pure: `pack` returns the objects to upload and the call objects; submit.py uploads and records them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy.functions import payload
from batchdeploy.functions.payload import client_python

__all__ = ["Packed", "client_python", "pack", "result_url"]


@dataclass
class Packed:
    function_sha256: str
    calls: list[dict]  # the manifest's `call` object of each task, in order
    uploads: dict[str, bytes] = field(default_factory=dict)  # key -> bytes (content-addressed)
    bytes_inline: int = 0


def result_url(bucket: str, prefix: str, run_id: str, task_id: int) -> str:
    return f"s3://{bucket}/{prefix.strip('/')}/{run_id}/results/{task_id}.pkl"


def pack(fn, arguments: list[tuple[tuple, dict]], *, bucket: str, prefix: str, run_id: str) -> Packed:
    """The function and every call's (args, kwargs) pickled and checked (payload.py), as call objects
    with task ids 1..N. UsageError naming what cannot be pickled, or what is over the size limit."""
    function = payload.pickle_function(fn)
    where = payload.functions_prefix(prefix)
    packed = Packed(function.sha256, [])
    for n, (args, kwargs) in enumerate(arguments, 1):
        blob = payload.pickle_arguments(args, kwargs, index=n - 1 if len(arguments) > 1 else None)
        call = payload.call_object(function, blob, bucket=bucket, prefix=where,
                                   result=result_url(bucket, prefix, run_id, n), python=client_python())
        for key, data in payload.uploads(function, blob, prefix=where).items():
            packed.uploads.setdefault(key, data)
        packed.calls.append(call)
    return packed
