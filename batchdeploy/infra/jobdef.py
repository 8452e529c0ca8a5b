"""A job definition for `create`/`delete`, done as `-u` does it: the file read, rendered and checked
by the shared job definition model (batchdeploy.jobdef: files, check, compare), registered and
recorded in job-definitions.json (jobdef.record) so `-r` can use it."""

from __future__ import annotations

from pathlib import Path

from batchdeploy.aws.batch import MAX_TAGS
from batchdeploy.aws.tags import TAG_HASH, TAG_PREFIX, our_tags
from batchdeploy.infra.model import default_name
from batchdeploy.jobdef import files as jobdef_files
from batchdeploy.jobdef import record
from batchdeploy.jobdef.check import build_request
from batchdeploy.jobdef.compare import changes, content_hash, format_change
from batchdeploy.state import IMAGES, JOB_DEFINITIONS


def image_tag(cfg, state) -> tuple[str | None, str]:
    """`${IMAGE_TAG}` as -u resolves it, and where it came from."""
    images = (state.read(IMAGES) or {}).get("images") or {}
    return jobdef_files.resolve_image_tag(cfg, images)


def jobdef_request(cfg, path: Path, shown: str, prefix: str, image_tag: str | None, image_tag_origin: str):
    """A job definition file as the RegisterJobDefinition request `create` sends: read, rendered and
    checked by -u's own loading (load_file: named PREFIX-job-definition when the file leaves the name
    out, `${PREFIX}` beside the configuration), with the prefix tag beside -u's project and hash tags.
    Returns (request, problems, warnings), each line naming the file."""
    project = cfg["PROJECT_NAME"]
    src, problems, warnings = jobdef_files.load_file(
        cfg,
        path,
        image_tag,
        image_tag_origin,
        shown=shown,
        variables={"PREFIX": prefix},
        default_name=default_name("job-definition", prefix),
    )
    if src is None or problems:
        return None, problems, warnings
    tags = src.definition.get("tags") or {}
    if len(tags) + len(our_tags(project, prefix)) + 1 > MAX_TAGS:
        problems = [f"{shown}: tags: with batchdeploy's prefix tag, above AWS's limit of {MAX_TAGS}"]
        return None, problems, warnings
    doc = {**src.definition, "tags": {**tags, TAG_PREFIX: prefix}}
    base = build_request(doc, project)
    return build_request(doc, project, content_hash(base)), [], warnings


def jobdef_differences(want: dict, have: dict):
    """A job definition compared as -u compares it: normalized, so what AWS adds or reorders is no
    change. (diffs, lines shown as `path AWS -> file`)."""
    found = changes(have, want)
    return [(c.path, c.after, c.before) for c in found], [format_change(c) for c in found]


def register_job_definition(aws, state, request: dict, file: str) -> str:
    """Register as -u does, and record NAME:REVISION in job-definitions.json so `-r` can use it
    (it becomes -r's default only when -u has not set one). Returns the new revision's ARN."""
    source = jobdef_files.Source(
        Path(file),
        file,
        definition=request,
        request=request,
        content_hash=request.get("tags", {}).get(TAG_HASH, ""),
    )
    item = record.Item(source, status="register")
    record.register(aws, item)
    previous = record.read_recorded(state)
    record.record(state, previous, [item], previous.get("default") or item.name)
    return item.arn


def forget_job_definition(state, name: str, arns: list[str]) -> None:
    """Drop a deregistered definition from job-definitions.json, so `-r` does not submit to it."""
    data = record.read_recorded(state)
    definitions = data.get("definitions") or {}
    if (definitions.get(name) or {}).get("arn") not in arns:
        return
    definitions.pop(name)
    if data.get("default") == name:
        data["default"] = next(iter(sorted(definitions)), None)
        if data["default"] is None:
            data.pop("default")
    state.write(JOB_DEFINITIONS, data)
