"""Does a job definition name an image `-b` builds and pushed? (pure, run by -u before any call)

An image under AWS_REGISTRY is one of ours: its name (after the registry and before `:TAG`/`@DIGEST`)
must be one IMAGES builds, and, once `-b` has recorded pushes in .batchdeploy/images.json, one it
pushed. Otherwise the job fails on its host in seconds with an image that does not exist (issue #21:
PROJECT_NAME renamed, IMAGES left as it was). Images elsewhere (busybox, another registry) are not ours
to check.
"""

from __future__ import annotations

import re


def built_names(images_setting: str | None, project: str | None) -> list[str]:
    """The image names IMAGES builds (`name=folder ...`; PROJECT_NAME when unset)."""
    return [pair.split("=", 1)[0] for pair in (images_setting or "").split()] or ([project] if project else [])


def image_problems(shown: str, image, registry: str | None, built: list[str], recorded: dict) -> list[str]:
    """One line per problem, each with the fix."""
    base = (registry or "").rstrip("/")
    if not base or not isinstance(image, str) or not image.startswith(base + "/"):
        return []
    name = re.split(r"[:@]", image[len(base) + 1 :], maxsplit=1)[0]
    if name not in built:
        return [
            f"{shown}: containerProperties.image names image {name!r}, which -b does not build "
            f"(IMAGES builds {', '.join(built) or 'nothing'}): name one of those in the image, "
            f"or add {name}=FOLDER to IMAGES in .aws_env"
        ]
    pushed = sorted(k for k, v in (recorded or {}).items() if isinstance(v, dict) and v.get("tag"))
    if pushed and name not in pushed:
        return [
            f"{shown}: containerProperties.image names image {name!r}, which no -b pushed "
            f"(.batchdeploy/images.json has {', '.join(pushed)}): run ./deploy.sh -b first"
        ]
    return []
