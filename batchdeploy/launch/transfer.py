"""Inputs copied in before the command, outputs copied out after it.

An input `from` ending in `/` is a prefix: every object under it lands under the local folder `to`.
Otherwise it is one object, written to `to` (or into `to` when that ends in `/`). An output `from`
that is a folder is uploaded file by file under the prefix `to` (an empty folder counts as missing: the
launcher makes every output's folder before the command); a file goes to `to` (or into it when it ends
in `/`). Relative local paths are relative to the command's folder.
"""

from __future__ import annotations

import os

from batchdeploy.launch import EXIT_INPUT, EXIT_OUTPUT
from batchdeploy.launch.s3 import download, list_objects, s3_errors, upload
from batchdeploy.launch.spec import LaunchError, parse_s3_url


def local_path(workdir: str, path: str) -> str:
    return os.path.normpath(os.path.join(workdir, path))


def copy_in(client, inputs: list, workdir: str) -> list:
    """Every input copied in; returns what was copied: [{from, to, objects, bytes}]."""
    done = []
    for item in inputs:
        url, to = item["from"], item["to"]
        bucket, key = parse_s3_url(url, "input", EXIT_INPUT)
        target = local_path(workdir, to)
        if key.endswith("/") or key == "":
            with s3_errors(f"list the input {url}", EXIT_INPUT, "no such bucket"):
                objects = [(k, s) for k, s in list_objects(client, bucket, key) if not k.endswith("/")]
            if not objects:
                raise LaunchError(EXIT_INPUT, f"input {url} has no objects under it")
            pairs = [(k, os.path.join(target, *_relative(k[len(key):], url))) for k, _ in objects]
        else:
            name = key.rsplit("/", 1)[-1]
            pairs = [(key, os.path.join(target, name) if to.endswith("/") else target)]
        size = 0
        for k, path in pairs:
            with s3_errors(f"copy the input s3://{bucket}/{k}", EXIT_INPUT, "no such object"):
                try:
                    size += download(client, bucket, k, path)
                except OSError as exc:
                    raise LaunchError(EXIT_INPUT, f"cannot write the input to {path}: {exc.strerror}") from None
        done.append({"from": url, "to": to, "objects": len(pairs), "bytes": size})
    return done


def make_output_folders(outputs: list, workdir: str) -> None:
    """The local folders outputs are copied from, made before the command (as dsub does), so a command
    can write to `$NAME` or `$BATCHDEPLOY_OUTPUT_DIR` without making its folder first. Best effort: a
    folder that cannot be made is the command's to report."""
    for item in outputs:
        path = local_path(workdir, item["from"])
        folder = path if item["from"].endswith("/") else os.path.dirname(path)
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:
            pass


def _relative(rest: str, url: str) -> list:
    parts = [p for p in rest.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise LaunchError(EXIT_INPUT, f"input {url} holds a key with '.' or '..' parts: {rest!r}")
    return parts


def copy_out(client, outputs: list, workdir: str, required: bool) -> tuple[list, list]:
    """Every output that exists uploaded; returns (copied, missing). A missing output that is
    neither optional nor excused (`required` False: the command failed) is an EXIT_OUTPUT."""
    done, missing = [], []
    for item in outputs:
        source, url = item["from"], item["to"]
        bucket, key = parse_s3_url(url, "output", EXIT_OUTPUT)
        path = local_path(workdir, source)
        pairs = _output_pairs(path, key) if os.path.exists(path) else []
        if not pairs:  # an empty folder too: the launcher made it (make_output_folders), the command wrote nothing
            missing.append(source)
            continue
        size = 0
        for file, k in pairs:
            with s3_errors(f"copy the output {file} to s3://{bucket}/{k}", EXIT_OUTPUT, "no such bucket"):
                size += upload(client, file, bucket, k)
        done.append({"from": source, "to": url, "objects": len(pairs), "bytes": size})
    needed = [m for m in missing if not _optional(outputs, m)]
    if required and needed:
        raise OutputsMissing(needed, done, missing)
    return done, missing


def _optional(outputs: list, source: str) -> bool:
    return any(o["from"] == source and o.get("optional") for o in outputs)


class OutputsMissing(LaunchError):
    def __init__(self, needed: list, copied: list, missing: list):
        super().__init__(EXIT_OUTPUT, f"the command succeeded but declared outputs are missing: {', '.join(needed)}")
        self.copied = copied
        self.missing = missing


def _output_pairs(path: str, key: str) -> list:
    if os.path.isdir(path):
        prefix = key if key.endswith("/") or not key else key + "/"
        pairs = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                file = os.path.join(root, name)
                rel = os.path.relpath(file, path).replace(os.sep, "/")
                pairs.append((file, prefix + rel))
        return pairs
    if key.endswith("/") or not key:
        return [(path, key + os.path.basename(path))]
    return [(path, key)]
