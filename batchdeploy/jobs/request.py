"""The SubmitJob request, built from plain data and checked before anything is sent.

Everything here is pure: the words a user typed become parameters, tags and overrides; a job
definition (as DescribeJobDefinitions returns it) says which parameters exist; `build` assembles the
request; `check` validates it against botocore's model and the limits AWS documents but moto does
not enforce. So `--dry-run` prints exactly what would be submitted, and every rule has a unit test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from batchdeploy.aws import shapes
from batchdeploy.aws.batch import (
    ARRAY_SIZE,
    ATTEMPTS,
    JOB_ID,
    JOB_NAME,
    MAX_DEPENDS_ON,
    MAX_SUBMIT_PAYLOAD,
    MAX_TAGS,
    MIN_TIMEOUT_S,
    ref_names,
)
from batchdeploy.aws.tags import TAG_CLIENT_TOKEN, TAG_NAMESPACE
from batchdeploy.errors import UsageError
from batchdeploy.secrets import is_secret

# The AWS limits are aws.batch's; moto accepts requests that break most of them, so they are checked here.
_KEY = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_TAG_KEY = r"[A-Za-z0-9_.:/+@-][A-Za-z0-9_.:/+@ -]*"  # what AWS allows in a tag key, but `=`


@dataclass
class RunSpec:
    """What one `-r` asks for, as plain data (the verb fills it from flags, configuration and files)."""

    name: str
    queue: str
    job_definition: dict  # one entry of DescribeJobDefinitions
    parameters: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    overrides: dict = field(default_factory=dict)  # containerOverrides (environment merged already)
    vcpus: str | None = None
    memory: str | None = None
    gpus: str | None = None
    timeout: int | None = None
    retries: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    array_size: int | None = None
    client_token: str | None = None


def check_name(name: str) -> str:
    if JOB_NAME.fullmatch(name):
        return name
    if "=" in name:
        raise UsageError(
            f"job name {name!r} looks like a parameter", hint="give the job's name first: ./deploy.sh -r NAME key=val ..."
        )
    raise UsageError(
        f"job name {name!r} is not one AWS accepts",
        hint="use up to 128 letters, digits, - and _, starting with a letter or digit",
    )


def parse_pairs(words: list[str], what: str = "parameter") -> dict[str, str]:
    """`key=val` words, each possibly the triage form `k=v,k2=v2`, as an ordered dict.

    A comma starts a new pair only when what follows looks like `key=`: `a=1,b=2` is two pairs, while
    a value such as `s3://x/a,b.yaml` keeps its comma.
    """
    key_re = _TAG_KEY if what == "tag" else _KEY
    split = re.compile(rf",(?={key_re}=)")
    out: dict[str, str] = {}
    for word in words:
        for pair in split.split(word):
            key, sep, value = pair.partition("=")
            if not sep or not re.fullmatch(key_re, key):
                allowed = "letters, digits, spaces and _ . : / + @ -" if what == "tag" else "letters, digits, _ . -"
                raise UsageError(
                    f"malformed {what} {pair!r}",
                    hint=f"write {what}s as key=value (several as k=v,k2=v2); keys are {allowed}",
                )
            if not value and what == "parameter":
                raise UsageError(
                    f"parameter {key!r} has an empty value ({key}=)",
                    hint=f"an empty value would replace the job definition's default; leave {key} out to keep "
                    "the default, or give it a value",
                )
            if key in out and out[key] != value:
                raise UsageError(f"{what} {key!r} is given twice with different values")
            out[key] = value
    return out


def placeholders(job_definition: dict) -> list[str]:
    """The `Ref::name` placeholders of a container job definition's command, in order of appearance."""
    command = (job_definition.get("containerProperties") or {}).get("command") or []
    return list(dict.fromkeys(name for part in command for name in ref_names(part)))


def check_parameters(given: dict[str, str], job_definition: dict) -> dict[str, str]:
    """Reject unknown keys and placeholders nothing fills. Returns the parameters the job will see."""
    label = definition_label(job_definition)
    refs = placeholders(job_definition)
    defaults = dict(job_definition.get("parameters") or {})
    valid = list(dict.fromkeys([*refs, *defaults]))
    unknown = [k for k in given if k not in valid]
    if unknown:
        listed = ", ".join(valid) if valid else "none: it takes no parameters"
        raise UsageError(f"unknown parameter {', '.join(unknown)} for {label}", hint=f"valid parameters: {listed}")
    missing = [k for k in refs if k not in given and k not in defaults]
    if missing:
        refs_text = ", ".join(f"Ref::{k}" for k in missing)
        raise UsageError(
            f"{label} needs a value for {', '.join(missing)}: its command has {refs_text} and no default, and AWS "
            "would leave an unfilled Ref:: in the command as literal text",
            hint="pass " + " ".join(f"{k}=..." for k in missing) + ", or give each a default in the job definition's "
            '"parameters" object and run -u',
        )
    return {**defaults, **given}


def definition_label(job_definition: dict) -> str:
    name = job_definition.get("jobDefinitionName", "?")
    rev = job_definition.get("revision")
    return f"{name}:{rev}" if rev is not None else name


def _positive(value: str | None, flag: str, integer: bool) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    pattern = r"[1-9]\d*" if integer else r"(?:\d+(?:\.\d+)?|\.\d+)"
    if not re.fullmatch(pattern, text) or float(text) <= 0:
        kind = "a whole number" if integer else "a number"
        raise UsageError(f"{flag} {value!r} is not {kind} above 0")
    return text


def check_options(spec: RunSpec) -> None:
    """Limits of AWS that moto does not enforce; each violation is a usage error before any call."""
    check_name(spec.name)
    spec.vcpus = _positive(spec.vcpus, "--vcpus", integer=False)
    spec.memory = _positive(spec.memory, "--memory", integer=True)
    spec.gpus = _positive(spec.gpus, "--gpus", integer=True)
    if spec.timeout is not None and spec.timeout < MIN_TIMEOUT_S:
        raise UsageError(f"--timeout {spec.timeout} is too short", hint=f"AWS Batch needs at least {MIN_TIMEOUT_S} seconds")
    if spec.retries is not None and not ATTEMPTS[0] <= spec.retries <= ATTEMPTS[1]:
        raise UsageError(f"--retries {spec.retries} is out of range", hint=f"attempts must be {ATTEMPTS[0]} to {ATTEMPTS[1]}")
    if spec.array_size is not None and not ARRAY_SIZE[0] <= spec.array_size <= ARRAY_SIZE[1]:
        raise UsageError(f"--array-size {spec.array_size} is out of range", hint="an array job has 2 to 10,000 children")
    if len(spec.depends_on) > MAX_DEPENDS_ON:
        raise UsageError(f"{len(spec.depends_on)} --depends-on given", hint=f"a job can depend on at most {MAX_DEPENDS_ON}")
    for job_id in spec.depends_on:
        if not JOB_ID.fullmatch(job_id):
            raise UsageError(
                f"--depends-on {job_id!r} is not a job id",
                hint="a job id is a UUID (e.g. 5a3c9e2b-1f4d-4c8a-9b6e-0d7f2a1c3e5b), or PARENT:INDEX for an "
                "array child; ./deploy.sh --status lists them",
            )
    for key, value in spec.tags.items():
        if key.lower().startswith("aws:") or key.startswith(TAG_NAMESPACE):
            raise UsageError(f"tag key {key!r} is reserved", hint="tag keys may not start with aws: or batchdeploy:")
        if len(key) > 128 or len(value) > 256:
            raise UsageError(f"tag {key!r} is too long", hint="keys up to 128 characters, values up to 256")
    total = len(spec.tags) + (1 if spec.client_token else 0)
    if total > MAX_TAGS:
        raise UsageError(f"{len(spec.tags)} tags given", hint=f"a job takes at most {MAX_TAGS} tags, one is batchdeploy's")


def build(spec: RunSpec) -> dict:
    """The SubmitJob request for `spec` (checked with `check` before it is sent)."""
    jd = spec.job_definition
    request: dict = {
        "jobName": spec.name,
        "jobQueue": spec.queue,
        "jobDefinition": jd["jobDefinitionArn"],
    }
    if spec.parameters:
        request["parameters"] = dict(spec.parameters)
    overrides = json.loads(json.dumps(spec.overrides or {}))  # a deep copy the caller keeps unchanged
    if spec.extra_args:
        # Overriding the command replaces it whole, so the definition's command is repeated with the
        # Ref:: placeholders left in: Batch substitutes parameters into an overridden command too.
        base = overrides.get("command") or (jd.get("containerProperties") or {}).get("command") or []
        overrides["command"] = [*base, *spec.extra_args]
    resources = [
        {"type": kind, "value": value}
        for kind, value in (("VCPU", spec.vcpus), ("MEMORY", spec.memory), ("GPU", spec.gpus))
        if value is not None
    ]
    if resources:
        replaced = {r["type"] for r in resources}
        kept = [r for r in overrides.get("resourceRequirements", []) if r.get("type") not in replaced]
        overrides["resourceRequirements"] = kept + resources
    if overrides:
        request["containerOverrides"] = overrides
    if spec.timeout is not None:
        request["timeout"] = {"attemptDurationSeconds": spec.timeout}
    if spec.retries is not None:
        request["retryStrategy"] = {"attempts": spec.retries}
    if spec.depends_on:
        request["dependsOn"] = [{"jobId": j} for j in spec.depends_on]
    if spec.array_size is not None:
        request["arrayProperties"] = {"size": spec.array_size}
    tags = dict(spec.tags)
    if spec.client_token:
        tags[TAG_CLIENT_TOKEN] = spec.client_token
    if tags:
        request["tags"] = tags
    return request


def check(request: dict) -> None:
    """The whole request against botocore's SubmitJob shape, and AWS's 30 KiB payload limit."""
    problems = shapes.request("batch", "SubmitJob", request)
    if problems:
        raise UsageError("the SubmitJob request is not valid: " + "; ".join(problems))
    size = len(json.dumps(request, separators=(",", ":")).encode())
    if size > MAX_SUBMIT_PAYLOAD:
        raise UsageError(
            f"the SubmitJob request is {size:,} bytes, above AWS's {MAX_SUBMIT_PAYLOAD:,}",
            hint="shorten env-overrides.json, the parameters or the extra arguments",
        )


def effective_timeout(spec: RunSpec) -> tuple[int | None, int]:
    """(attempt timeout in seconds or None, attempts) the job will run with."""
    jd = spec.job_definition
    timeout = spec.timeout or (jd.get("timeout") or {}).get("attemptDurationSeconds")
    attempts = spec.retries or (jd.get("retryStrategy") or {}).get("attempts") or 1
    return timeout, attempts


def masked(request: dict, secret_names: set[str]) -> dict:
    """A copy for printing: values of the named environment variables (and secret-looking ones) masked."""
    out = json.loads(json.dumps(request))
    for entry in (out.get("containerOverrides") or {}).get("environment") or []:
        if entry.get("name") in secret_names or is_secret(entry.get("name", "")):
            entry["value"] = "****"
    return out


def image_tag(job_definition: dict) -> str | None:
    """The tag (or digest) of the definition's image, for the jobs record."""
    image = (job_definition.get("containerProperties") or {}).get("image") or ""
    if "@" in image:
        return image.rsplit("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def console_url(region: str, job_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/batch/home?region={region}#jobs/detail/{job_id}"
