"""`-b` and the launcher: an image whose Dockerfile copies `batchdeploy-launch` in gets the file.

The Dockerfile line is the one the README documents, `COPY batchdeploy-launch /usr/local/bin/`. When
an image's Dockerfile copies or adds `batchdeploy-launch`, `-b` writes the launcher (the one-file
zip application, batchdeploy.launch.zipapp) into the build context before hashing it, so the image's
launcher always matches this batchdeploy (a new launcher is a new content tag), and records
`"launcher": true` for the image in images.json, which is how `-r --code` knows the image has it.
The file is deterministic, rewritten only when its bytes change; list it in the project's .gitignore.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from batchdeploy.launch import zipapp

FILE = "batchdeploy-launch"
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
