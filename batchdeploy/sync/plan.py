"""Pure: from both sides' listings, what to copy, what to ask S3 about, and what to delete."""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy.sync.exclude import Excluder
from batchdeploy.sync.hashcache import MULTIPART_THRESHOLD
from batchdeploy.sync.remote import Remote


@dataclass
class Plan:
    copy: list[str] = field(default_factory=list)  # relative paths to transfer
    delete: list[str] = field(default_factory=list)
    ask: list[str] = field(default_factory=list)  # large, unknown ETag: HEAD decides
    unchanged: int = 0


def same_content(size: int, sha256: str | None, etag: str | None, remote: Remote, known: dict[str, str]):
    """True/False when the listing decides whether the two sides hold the same bytes, None if unknown."""
    if size != remote.size:
        return False
    if etag and etag == remote.etag:
        return True
    sha = known.get(remote.etag)
    if sha is not None and sha256 is not None:
        return sha == sha256
    return None


def make_plan(source: dict, target: dict, upload: bool, known: dict, excluder: Excluder, protected, delete: bool):
    """What to copy and delete. `source`/`target` map relative paths to Local/Remote by direction."""
    plan = Plan()
    for rel in sorted(source):
        s = source[rel]
        t = target.get(rel)
        if t is None:
            plan.copy.append(rel)
            continue
        local, remote = (s, t) if upload else (t, s)
        verdict = same_content(local.st.st_size, local.sha256, local.etag, remote, known)
        if verdict is True:
            plan.unchanged += 1
        elif verdict is False or remote.size < MULTIPART_THRESHOLD:
            plan.copy.append(rel)
        else:
            plan.ask.append(rel)
    if delete:
        for rel in sorted(set(target) - set(source)):
            if not excluder.excluded(rel) and not _protected(rel, protected):
                plan.delete.append(rel)
    return plan


def _protected(rel: str, protected) -> bool:
    if not protected:
        return False
    if rel in protected:
        return True
    parts = rel.split("/")
    return any("/".join(parts[:i]) in protected for i in range(1, len(parts)))
