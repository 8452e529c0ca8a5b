"""`-b` and the launcher: an image whose Dockerfile copies `batchdeploy-launch` in gets the file.

The Dockerfile line is the one docs/launcher.md documents, `COPY batchdeploy-launch /usr/local/bin/`. When
an image's Dockerfile copies or adds `batchdeploy-launch`, `-b` writes the launcher (the one-file
zip application, batchdeploy.launch.zipapp) into the build context before hashing it, so the image's
launcher always matches this batchdeploy (a new launcher is a new content tag), and records
`"launcher": true` for the image in images.json, which is how `-r --code` knows the image has it.
The file is deterministic, rewritten only when its bytes change; list it in the project's .gitignore.

For such an image, `-b` also records the image's Python (`"python": "3.11"`, major.minor) by running
its python3 once (`ask_python`, with no network and no pull), as function calls (issue #19) must be
pickled by the same Python minor version the image runs; `python_version(images, image)` reads it
back. The version is asked again only when the image's digest changed.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from batchdeploy.errors import OperationError
from batchdeploy.launch import zipapp

FILE = "batchdeploy-launch"
PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"
_VERSION = re.compile(r"[0-9]+\.[0-9]+")
_LINE = re.compile(r"^[ \t]*(COPY|ADD)\b[^\n]*?[ \t/]batchdeploy-launch([ \t]|$)", re.IGNORECASE | re.MULTILINE)


def wanted(dockerfile: Path) -> bool:
    """Whether the Dockerfile copies or adds the launcher file from the context."""
    try:
        return bool(_LINE.search(Path(dockerfile).read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def launcher_bytes() -> bytes:
    with tempfile.TemporaryDirectory(prefix="batchdeploy-launch-") as tmp:
        path = zipapp.write(os.path.join(tmp, FILE))
        return Path(path).read_bytes()


def provide(context: Path, dockerfile: Path) -> bool:
    """Writes the launcher into `context` when the Dockerfile asks for it; True when the image will have it."""
    if not wanted(dockerfile):
        return False
    target = Path(context) / FILE
    data = launcher_bytes()
    if not target.is_file() or target.read_bytes() != data:
        partial = target.with_name(f".{FILE}.partial-{os.getpid()}")
        partial.write_bytes(data)
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    return True


def ask_python(engine, image: str) -> str | None:
    """The major.minor of the python3 in the local `image` (batchdeploy.engine.Engine), or None when
    it has none that answers (or is not local: nothing is pulled)."""
    args = ["run", "--rm", "--pull=never", "--network=none", "--entrypoint", "python3", image, "-c", PROBE]
    try:
        lines = engine.run(args, f"ask {image} its Python version", display="none", tail_on_failure=False)
    except OperationError:
        return None
    found = [line.strip() for line in lines if _VERSION.fullmatch(line.strip())]
    return found[-1] if found else None


def recorded_python(previous: dict, digest: str) -> str | None:
    """The Python recorded for this very build (same digest), so an unchanged image is not asked again."""
    return previous.get("python") if previous.get("digest") == digest and previous.get("python") else None


def python_version(images: dict, image: str) -> str | None:
    """The Python major.minor `-b` recorded for `image` in images.json's "images" mapping (`images`),
    `image` being its name there ("default") or a reference REPO:TAG or REPO@DIGEST it pushed; None
    when -b did not build it here, built it without the launcher, or could not ask it."""
    for name, entry in (images or {}).items():
        if not isinstance(entry, dict):
            continue
        repo = entry.get("repository")
        refs = {name} | {f"{repo}:{entry.get(k)}" for k in ("tag", "version") if repo and entry.get(k)}
        refs |= {f"{repo}@{entry['digest']}"} if repo and entry.get("digest") else set()
        if image in refs:
            version = entry.get("python")
            return version if isinstance(version, str) and _VERSION.fullmatch(version) else None
    return None
