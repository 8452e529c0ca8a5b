"""Pickles do not cross Python versions: the client's major.minor must be the image's.

`-b` records the image's Python version in images.json (the launcher half of #19); an image built
elsewhere has none recorded, and then the version cannot be checked here: the user is told so, and the
launcher refuses at run time (launch.calls.PYTHON_MISMATCH) with the two versions named."""

from __future__ import annotations

import re

from batchdeploy.errors import UsageError
from batchdeploy.functions.payload import client_python
from batchdeploy.images.launcher import python_version


def major_minor(version: str | None) -> str | None:
    m = re.match(r"(\d+)\.(\d+)", str(version or ""))
    return f"{m[1]}.{m[2]}" if m else None


def recorded(image: str, images: dict) -> str | None:
    """The Python version -b recorded for `image` (images.launcher's reading of images.json), or None
    (not built by -b here, or before it recorded versions)."""
    return python_version(images, image)


def problem(client: str, image_version: str | None, image: str) -> str | None:
    """The one line that refuses a mismatch (pure); None when the versions agree or are unknown."""
    theirs = major_minor(image_version)
    if theirs and theirs != major_minor(client):
        return (f"this Python is {major_minor(client)} and image {image} has Python {theirs}: a pickle made here "
                f"would not load there")
    return None


def check(image: str, images: dict, warn=None, client: str | None = None) -> None:
    client = client or client_python()
    version = recorded(image, images)
    line = problem(client, version, image)
    if line:
        raise UsageError(line, hint=f"run this from Python {major_minor(version)} (e.g. a venv made with python"
                         f"{major_minor(version)}), or build the image on Python {major_minor(client)} (./deploy.sh -b)")
    if version is None and warn:
        warn(f"the Python version of image {image} is not known here (-b did not record it), so it cannot be "
             f"checked against this one ({major_minor(client)}); the launcher refuses a mismatch when the job runs")
