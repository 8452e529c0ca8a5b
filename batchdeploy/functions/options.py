"""The options of a function on Batch: ours, and covalent's names for them, checked against AWS's
limits before any call (pure: every rule has a unit test).

Our names: vcpus, memory (MiB), gpus, retries (attempts, 1-10, as `-r --retries`), timeout (seconds
per attempt, at least 60), queue, image, job_definition, tags, and the project's settings: bucket,
region, profile, env_file, settings (any `.aws_env` key), poll (most seconds between looks), name
(the job's), code (a folder sent as a code bundle; False: none), job_role, execution_role,
log_group, definition_prefix, verbose.

covalent's AWS Batch executor options map one to one (`COVALENT`); `from_covalent` reads them with
covalent's units (memory in GB). Passed to `batch(...)` directly they are taken as the same names,
but `memory` there is ours (MiB), so a covalent `memory=4` is refused as too little, with the hint.
The few covalent settings with no counterpart are refused with the reason (`REFUSED`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields

from batchdeploy.aws.batch import ATTEMPTS, CE_QUEUE_NAME, MAX_TAGS, MIN_TIMEOUT_S, NAME
from batchdeploy.errors import UsageError

DEFAULT_VCPUS = 1.0
DEFAULT_MEMORY_MIB = 2048
MIN_MEMORY_MIB = 128  # AWS takes 4; a Python process with cloudpickle does not start in less than this
FARGATE_FRACTIONS = (0.25, 0.5)  # the only vCPU values below 1 AWS Batch takes
DEFAULT_POLL_S = 10.0  # covalent's poll_freq default: the slowest our backoff ever looks

# covalent name -> (our name, converter of covalent's value to ours)
COVALENT = {
    "vcpu": ("vcpus", float),
    "memory": ("memory", lambda gb: int(round(float(gb) * 1024))),  # covalent: GB (3.75 -> 3840 MiB)
    "num_gpus": ("gpus", int),
    "retry_attempts": ("retries", int),
    "time_limit": ("timeout", int),
    "poll_freq": ("poll", float),
    "container_image_uri": ("image", str),
    "s3_bucket_name": ("bucket", str),
    "batch_queue": ("queue", str),
    "region": ("region", str),
    "profile": ("profile", lambda p: p or None),  # covalent's "" means the default chain
    "batch_job_definition_name": ("definition_prefix", str),
    "batch_execution_role_name": ("execution_role", str),
    "batch_job_role_name": ("job_role", str),
    "batch_job_log_group_name": ("log_group", str),
}
REFUSED = {
    "credentials": "a credentials file path is not taken: set profile= (or AWS_PROFILE) and keep keys in ~/.aws",
    "ecr_repo_name": "no image is built per call: name the image with container_image_uri= (or image=), "
                     "built once by ./deploy.sh -b",
    "cache_dir": "nothing is cached on this machine: results are read from S3_BUCKET; remove the setting",
}


@dataclass(frozen=True)
class Options:
    vcpus: float | None = None
    memory: int | None = None  # MiB
    gpus: int = 0
    retries: int | None = None
    timeout: int | None = None
    queue: str | None = None
    image: str | None = None
    job_definition: str | None = None
    tags: dict = field(default_factory=dict)
    bucket: str | None = None
    region: str | None = None
    profile: str | None = None
    env_file: str | None = None
    settings: dict = field(default_factory=dict)
    poll: float = DEFAULT_POLL_S
    name: str | None = None
    code: str | bool | None = None
    job_role: str | None = None
    execution_role: str | None = None
    log_group: str | None = None
    definition_prefix: str | None = None
    verbose: bool = False

    def config_flags(self) -> dict:
        """The `.aws_env` keys these options set (they win over the file and the environment)."""
        flags = {str(k): str(v) for k, v in (self.settings or {}).items()}
        for ours, key in (("bucket", "S3_BUCKET"), ("queue", "AWS_JOB_QUEUE"), ("region", "AWS_REGION"),
                          ("profile", "AWS_PROFILE")):
            if getattr(self, ours) is not None:
                flags[key] = str(getattr(self, ours))
        return flags

    def resources(self, base: dict | None = None) -> dict:
        """{"VCPU", "MEMORY", "GPU"} as AWS writes them: ours, else the base definition's, else defaults."""
        have = {r["type"]: r["value"] for r in (base or {}).get("resourceRequirements") or []}
        vcpus = self.vcpus if self.vcpus is not None else float(have.get("VCPU", DEFAULT_VCPUS))
        memory = self.memory if self.memory is not None else int(have.get("MEMORY", DEFAULT_MEMORY_MIB))
        out = {"VCPU": _number(vcpus), "MEMORY": str(memory)}
        if self.gpus:
            out["GPU"] = str(self.gpus)
        return out


_OURS = {f.name for f in fields(Options)}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def from_covalent(settings: dict) -> dict:
    """covalent's executor settings (its names and units) as our options; refused names say why."""
    out: dict = {}
    for name, value in settings.items():
        if name in REFUSED:
            raise UsageError(f"covalent's {name} is not taken: {REFUSED[name]}")
        if name not in COVALENT:
            raise UsageError(f"unknown covalent setting {name!r}", hint="known: " + ", ".join([*COVALENT, *REFUSED]))
        ours, convert = COVALENT[name]
        try:
            out[ours] = convert(value)
        except (TypeError, ValueError):
            raise UsageError(f"covalent's {name}={value!r} is not a {convert.__name__ if convert in (int, float, str) else 'number'}") from None
    return out


def parse(given: dict) -> Options:
    """`batch(**given)` as checked Options: our names, or covalent's (but memory, which is ours: MiB)."""
    values: dict = {}
    for name, value in given.items():
        if name in _OURS:
            ours = name
        elif name in COVALENT:
            ours, convert = COVALENT[name]
            value = convert(value) if value is not None else None
        elif name in REFUSED:
            raise UsageError(f"covalent's {name} is not taken: {REFUSED[name]}")
        else:
            raise UsageError(f"unknown option {name!r}", hint="options: " + ", ".join(sorted(_OURS | set(COVALENT))))
        if ours in values and values[ours] != value:
            raise UsageError(f"{ours} is given twice ({name!r} is covalent's name for it) with different values")
        values[ours] = value
    options = Options(**{k: v for k, v in values.items() if v is not None or k in ("code",)})
    check(options)
    return options


def check(o: Options) -> None:
    """AWS's limits (and ours), each one line before any call."""
    if o.vcpus is not None:
        _check_vcpus(o.vcpus)
    if o.memory is not None:
        _check_memory(o.memory)
    if isinstance(o.gpus, bool) or not isinstance(o.gpus, int) or o.gpus < 0:
        raise UsageError(f"gpus={o.gpus!r} must be a whole number, 0 or more")
    if o.retries is not None and not (_whole(o.retries) and ATTEMPTS[0] <= o.retries <= ATTEMPTS[1]):
        raise UsageError(f"retries={o.retries!r} is out of range",
                         hint=f"attempts are {ATTEMPTS[0]} to {ATTEMPTS[1]} (AWS Batch's retryStrategy)")
    if o.timeout is not None and not (_whole(o.timeout) and o.timeout >= MIN_TIMEOUT_S):
        raise UsageError(f"timeout={o.timeout!r} is too short or not whole seconds",
                         hint=f"AWS Batch needs at least {MIN_TIMEOUT_S} seconds per attempt")
    if o.queue is not None and not (CE_QUEUE_NAME.fullmatch(o.queue) or o.queue.startswith("arn:")):
        raise UsageError(f"queue={o.queue!r} is not a job queue name or ARN")
    for what in ("image", "job_definition", "bucket", "job_role", "execution_role", "log_group"):
        value = getattr(o, what)
        if value is not None and (not isinstance(value, str) or not value or re.search(r"\s", value)):
            raise UsageError(f"{what}={value!r} must be a word with no spaces")
    if o.job_definition and (o.image or o.vcpus or o.memory or o.gpus):
        raise UsageError("job_definition= with image or resources",
                         hint="a definition of your own fixes its image and resources; give one or the other")
    if o.definition_prefix is not None and not NAME.fullmatch(f"{o.definition_prefix}-fn-{'0' * 12}"):
        raise UsageError(f"definition_prefix={o.definition_prefix!r} does not make a job definition name",
                         hint="up to 112 letters, digits, - and _")
    if not isinstance(o.poll, (int, float)) or isinstance(o.poll, bool) or not 0 < o.poll <= 3600:
        raise UsageError(f"poll={o.poll!r} must be seconds, above 0 and at most 3600")
    _check_tags(o.tags)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_vcpus(vcpus) -> None:
    ok = isinstance(vcpus, (int, float)) and not isinstance(vcpus, bool) and math.isfinite(vcpus)
    if not ok or vcpus <= 0 or (vcpus < 1 and vcpus not in FARGATE_FRACTIONS) or (vcpus > 1 and not float(vcpus).is_integer()):
        raise UsageError(f"vcpus={vcpus!r} is not a vCPU count AWS Batch takes",
                         hint="a whole number, or 0.25 or 0.5 on Fargate")


def _check_memory(memory) -> None:
    if not _whole(memory):
        raise UsageError(f"memory={memory!r} must be whole MiB",
                         hint="covalent's memory is GB: memory=3.75 there is memory=3840 here (or from_covalent)")
    if memory < MIN_MEMORY_MIB:
        raise UsageError(f"memory={memory} MiB is too little to run Python (at least {MIN_MEMORY_MIB})",
                         hint=f"memory is MiB here; covalent's memory={memory} GB is memory={memory * 1024}")


def _check_tags(tags) -> None:
    if not isinstance(tags, dict):
        raise UsageError("tags= must be a dict of strings")
    if len(tags) > MAX_TAGS - 1:
        raise UsageError(f"{len(tags)} tags given", hint=f"a job takes at most {MAX_TAGS} tags, one is batchdeploy's")
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise UsageError(f"tag {key!r}: keys and values must be strings")
        if key.lower().startswith("aws:") or key.startswith("batchdeploy:"):
            raise UsageError(f"tag key {key!r} is reserved", hint="tag keys may not start with aws: or batchdeploy:")
        if not key or len(key) > 128 or len(value) > 256:
            raise UsageError(f"tag {key!r} is too long or empty", hint="keys 1-128 characters, values up to 256")
