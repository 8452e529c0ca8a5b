"""The launcher as one executable file, `batchdeploy-launch`: a zip application holding this package
alone (and an empty `batchdeploy/__init__.py`), behind a `#!/usr/bin/env python3` line.

    python3 -m batchdeploy.launch.zipapp PATH      # writes it; then, in a Dockerfile:
    COPY batchdeploy-launch /usr/local/bin/

The file is deterministic (sorted entries, fixed times), so an image layer holding it changes only
when the launcher does.
"""

from __future__ import annotations

import os
import stat
import sys
import zipfile
from pathlib import Path

SHEBANG = b"#!/usr/bin/env python3\n"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_MAIN = "import sys\nfrom batchdeploy.launch.main import main\nsys.exit(main())\n"


def _entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, _FIXED_TIME)
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def write(path: str) -> str:
    """Writes the launcher file at `path` (made executable); returns the path."""
    here = Path(__file__).resolve().parent
    partial = f"{path}.partial-{os.getpid()}"
    with open(partial, "wb") as out:
        out.write(SHEBANG)
        with zipfile.ZipFile(out, "w") as archive:
            _entry(archive, "__main__.py", _MAIN.encode())
            _entry(archive, "batchdeploy/__init__.py", b"")
            for source in sorted(here.glob("*.py")):
                _entry(archive, f"batchdeploy/launch/{source.name}", source.read_bytes())
    os.chmod(partial, 0o755)
    os.replace(partial, path)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 -m batchdeploy.launch.zipapp PATH")
    print(write(sys.argv[1]))
