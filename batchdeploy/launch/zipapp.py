"""The launcher as one executable file, `batchdeploy-launch`: a zip application holding this package
(and an empty `batchdeploy/__init__.py`) and, as a top-level package beside it, the cloudpickle this
batchdeploy runs with (found with importlib: the client's own copy, with its license), behind a
`#!/usr/bin/env python3` line. cloudpickle is there for a function call's child process
(`callchild`), so the image needs nothing installed for function mode and both sides pickle with
the same cloudpickle; the launcher's own modules never import it.

    python3 -m batchdeploy.launch.zipapp PATH      # writes it; then, in a Dockerfile:
    COPY batchdeploy-launch /usr/local/bin/

The file is deterministic (sorted entries, fixed times), so an image layer holding it changes only
when the launcher does.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
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


def cloudpickle_files() -> list:
    """(name in the zip, bytes) of the installed cloudpickle's modules and license, sorted."""
    spec = importlib.util.find_spec("cloudpickle")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cloudpickle is not installed: the launcher's zip carries it (pip install cloudpickle)")
    package = Path(next(iter(spec.submodule_search_locations)))
    files = [(f"cloudpickle/{p.relative_to(package).as_posix()}", p.read_bytes())
             for p in package.rglob("*.py") if "__pycache__" not in p.parts]
    try:
        dist = importlib.metadata.distribution("cloudpickle")
        licenses = [f for f in dist.files or [] if f.name in ("LICENSE", "LICENSE.txt", "LICENSE.rst")]
        files += [("cloudpickle/LICENSE", dist.locate_file(f).read_bytes()) for f in licenses[:1]]
    except (importlib.metadata.PackageNotFoundError, OSError):
        pass
    return sorted(files)


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
            for name, data in cloudpickle_files():
                _entry(archive, name, data)
    os.chmod(partial, 0o755)
    os.replace(partial, path)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 -m batchdeploy.launch.zipapp PATH")
    print(write(sys.argv[1]))
