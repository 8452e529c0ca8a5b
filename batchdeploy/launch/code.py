"""The code bundle inside the container: fetched, its sha256 checked, unpacked safely.

A bundle is a gzip'd tar of regular files, folders and relative symbolic links (what
`batchdeploy.bundle` packs). Unpacking refuses absolute names, `..` parts, links that leave the
folder, and every other kind of member (devices, hard links, fifos).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tarfile

from batchdeploy.launch import EXIT_BUNDLE
from batchdeploy.launch.s3 import download, s3_errors
from batchdeploy.launch.spec import LaunchError, parse_s3_url


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_bundle(client, bundle: dict, scratch: str) -> tuple[str, int]:
    """Downloads the bundle into `scratch`, checks its sha256; returns (path, size)."""
    url, want = bundle["url"], bundle["sha256"]
    bucket, key = parse_s3_url(url, "bundle", EXIT_BUNDLE)
    path = os.path.join(scratch, "bundle.tar.gz")
    with s3_errors(f"fetch the code bundle {url}", EXIT_BUNDLE, "no such object"):
        size = download(client, bucket, key, path)
    got = file_sha256(path)
    if got != want:
        raise LaunchError(EXIT_BUNDLE, f"code bundle {url} has sha256 {got}, not the manifest's {want}")
    return path, size


def unpack(archive: str, dest: str) -> int:
    """Unpacks a bundle into `dest` (created); returns the number of files."""
    os.makedirs(dest, exist_ok=True)
    files = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                _check_member(member)
                target = os.path.join(dest, *member.name.split("/"))
                if member.isdir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if member.issym():
                    os.symlink(member.linkname, target)
                    continue
                source = tar.extractfile(member)
                with source, open(target, "wb") as out:
                    while True:
                        chunk = source.read(1024 * 1024)
                        if not chunk:
                            break
                        out.write(chunk)
                os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
                files += 1
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise LaunchError(EXIT_BUNDLE, f"cannot unpack the code bundle: {exc}") from None
    return files


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    parts = name.split("/")
    if name.startswith("/") or ".." in parts or "" in parts[:-1] or "\\" in name:
        raise LaunchError(EXIT_BUNDLE, f"code bundle member {name!r} has an unsafe name")
    if member.issym():
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
        if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
            raise LaunchError(EXIT_BUNDLE, f"code bundle link {name!r} points outside the bundle")
    elif not (member.isfile() or member.isdir()):
        raise LaunchError(EXIT_BUNDLE, f"code bundle member {name!r} is neither a file, a folder nor a link")
