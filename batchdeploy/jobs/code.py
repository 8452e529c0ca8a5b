"""`-r NAME ... --code [DIR]`: the job runs the project's code from a bundle, not from the image.

The order keeps `-r`'s promise (nothing leaves the machine until every check passed): `plan` packs
the folder before any AWS call (a bundle over CODE_SIZE_LIMIT is refused with its largest files
named); `apply`, once the job definition is known, refuses an image without the launcher, builds
the manifest (one task per job, or per array child: the command the job would have run, `Ref::`
left for the launcher to fill from the task's parameters) and swaps the job's command for the
launcher line through containerOverrides.command; `upload` sends the bundle and the manifest, each
only when S3 lacks it (content-addressed), after the run record's checks and before SubmitJob.

How batchdeploy knows an image has the launcher: `-b` records `"launcher": true` in images.json for
an image whose Dockerfile copies `batchdeploy-launch` in (and writes the file into the build context,
batchdeploy.images.launcher); an image built some other way is declared by its job definition with
the environment entry BATCHDEPLOY_LAUNCHER=/path/to/batchdeploy-launch. Anything else is refused:
a launcher line in an image without the launcher would only fail later, in the queue.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from batchdeploy import bundle as bundles
from batchdeploy import manifest as manifests
from batchdeploy import runs
from batchdeploy.errors import UsageError
from batchdeploy.jobs import request as req
from batchdeploy.state import IMAGES

LAUNCHER = "batchdeploy-launch"
LAUNCHER_ENV = "BATCHDEPLOY_LAUNCHER"
MAX_OVERRIDES = 8192  # bytes of containerOverrides AWS Batch accepts
DOCKERFILE_LINE = "COPY batchdeploy-launch /usr/local/bin/"


@dataclass
class CodePlan:
    folder: Path
    bundle: bundles.Bundle
    bucket: str
    prefix: str
    manifest: manifests.Manifest | None = None
    manifest_url: str | None = None
    records: str | None = None

    def bundle_ref(self) -> dict:
        return manifests.bundle_ref(self.bundle, self.bucket, self.prefix)

    def summary(self) -> dict:
        """What the run record and `-i` say of the code."""
        return {**self.bundle_ref(), "files": self.bundle.files, "bytes": self.bundle.size,
                "source": self.bundle.source, "folder": str(self.folder)}


def folder_wanted(ctx, opts) -> str | None:
    if getattr(opts, "no_code", False):
        return None
    if opts.code == "":  # --code alone: CODE_DIR, else the project folder
        return ctx.cfg.get("CODE_DIR") or "."
    return opts.code or ctx.cfg.get("CODE_DIR")


def plan(ctx, opts) -> CodePlan | None:
    """The packed bundle when the run sends code (--code, or CODE_DIR), else None. No AWS call."""
    wanted = folder_wanted(ctx, opts)
    if not wanted:
        return None
    folder = ctx.cfg.path(wanted)
    if not folder.is_dir() and "=" in wanted:
        raise UsageError(
            f"--code took {wanted!r} as its folder", hint="write --code=DIR, or put --code after the parameters"
        )
    ctx.cfg.require("S3_BUCKET", optional=("CODE_DIR", "CODE_SIZE_LIMIT", "RUNS_PREFIX"))
    limit = bundles.parse_size(ctx.cfg.get("CODE_SIZE_LIMIT", "64MiB"))
    packed = bundles.pack(folder, limit)
    return CodePlan(folder, packed, ctx.cfg["S3_BUCKET"], ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX))


def image_entry(images: dict, image: str) -> tuple[str, dict] | None:
    """(name, images.json entry) of the build `image` (REPO:TAG or REPO@DIGEST) names, if -b made it."""
    for name, entry in (images or {}).items():
        repo = entry.get("repository")
        if not repo:
            continue
        names = {f"{repo}:{entry.get(k)}" for k in ("tag", "version") if entry.get(k)}
        names |= {f"{repo}@{entry['digest']}"} if entry.get("digest") else set()
        if image in names:
            return name, entry
    return None


def launcher_path(job_definition: dict, images: dict) -> str:
    """The launcher's command in the definition's image; UsageError when nothing says it has one."""
    props = job_definition.get("containerProperties") or {}
    declared = [e.get("value") for e in props.get("environment") or [] if e.get("name") == LAUNCHER_ENV]
    if declared and declared[0]:
        return declared[0]
    image = props.get("image") or "?"
    found = image_entry(images, image)
    if found and found[1].get("launcher"):
        return LAUNCHER
    why = ("-b built it from a Dockerfile without the launcher line" if found
           else "-b did not build it here and its job definition does not declare the launcher")
    raise UsageError(
        f"--code needs the launcher in the image, and {image} has none that batchdeploy knows of ({why})",
        hint=f"add `{DOCKERFILE_LINE}` to the Dockerfile and run -b and -u; for an image built elsewhere, set "
        f"{LAUNCHER_ENV}=/usr/local/bin/{LAUNCHER} in the job definition's environment",
    )


def task_command(spec: req.RunSpec) -> list:
    """What the job would have run: the overridden or defined command, then the words after `--`."""
    base = (spec.overrides or {}).get("command") or (spec.job_definition.get("containerProperties") or {}).get("command")
    if not base and not spec.extra_args:
        raise UsageError(
            f"{req.definition_label(spec.job_definition)} has no command, so --code has nothing to run",
            hint="give one after --: ./deploy.sh -r NAME --code -- python3 train.py",
        )
    return [*(base or []), *spec.extra_args]


def shadowed(command: list, bundle_data: bytes) -> list:
    """Absolute paths in the command naming a file the bundle also holds: the job would run the image's
    copy, not the bundle's (the command runs in the unpacked bundle, so code is named relatively)."""
    absolute = [w for w in command if isinstance(w, str) and w.startswith("/")]
    if not absolute:
        return []
    with tarfile.open(fileobj=io.BytesIO(bundle_data), mode="r:gz") as tar:
        names = {PurePosixPath(m).name for m in tar.getnames()}
    return [w for w in absolute if PurePosixPath(w).name in names]


def apply(ctx, code: CodePlan, spec: req.RunSpec, run_id: str) -> dict:
    """The SubmitJob request that runs the launcher on the manifest of `spec`'s task(s), checked."""
    jd = spec.job_definition
    launcher = launcher_path(jd, ctx.state.read(IMAGES).get("images") or {})
    task = {"command": task_command(spec), "parameters": {**(jd.get("parameters") or {}), **spec.parameters}}
    for word in shadowed(task["command"], code.bundle.data):
        ctx.out.warn(f"the command names {word}, the image's copy: with --code the job runs in the unpacked "
                     f"bundle, so name it relatively (e.g. {PurePosixPath(word).name}) to run the bundle's")
    code.manifest = manifests.build([task] * (spec.array_size or 1), bundle=code.bundle_ref())
    code.manifest_url = f"s3://{code.bucket}/{code.manifest.key(code.prefix)}"
    code.records = runs.records_url(code.bucket, code.prefix, run_id)
    line = [launcher, "--manifest", code.manifest_url, "--records", code.records]
    launched = replace(spec, extra_args=[], overrides={**(spec.overrides or {}), "command": line})
    request = req.build(launched)
    req.check(request)
    size = len(json.dumps(request.get("containerOverrides") or {}, separators=(",", ":")).encode())
    if size > MAX_OVERRIDES:
        raise UsageError(
            f"the job's containerOverrides are {size:,} bytes, above AWS's {MAX_OVERRIDES:,}",
            hint="shorten env-overrides.json (the launcher line and the credentials take the rest)",
        )
    return request


def describe(code: CodePlan) -> list[str]:
    """Lines for --dry-run and progress: what would be uploaded, where."""
    ref = code.bundle_ref()
    return [
        f"code bundle: {code.bundle.files} files, {bundles.human(code.bundle.size)} from {code.folder} "
        f"({code.bundle.source}) -> {ref['url']} ({bundles.human(len(code.bundle.data))} compressed)",
        f"manifest: {code.manifest_url}",
        f"task records: {code.records}",
    ]


def upload(s3, code: CodePlan) -> tuple[bool, bool]:
    """(bundle uploaded, manifest uploaded): each only when S3 does not have it yet."""
    sent_bundle = manifests.upload_if_absent(
        s3, code.bucket, code.bundle.key(code.prefix), code.bundle.data, "application/gzip"
    )
    sent_manifest = manifests.upload_if_absent(
        s3, code.bucket, code.manifest.key(code.prefix), code.manifest.data, "application/json"
    )
    return sent_bundle, sent_manifest
