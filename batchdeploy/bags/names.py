"""pegasus-aws-batch's resources: their names from `--prefix`, what `-j/--ce/-q/-s` name, and the plan
of what a run creates, uses and deletes. Pure: files are read, AWS is not called.

Read from pegasus's `impl/Synch.java` (pegasus-isi/pegasus main, 2026-06-22, d3ffe6042):
- names `PREFIX-job-definition`, `PREFIX-compute-env`, `PREFIX-job-queue`, `PREFIX-bucket`, used when
  a file does not name the resource itself (`jobDefinitionName`, `computeEnvironmentName`,
  `jobQueueName` win, `builder/*.java`);
- a value is a file when it contains `/` or exists (`isFile`), an ARN when it starts with `arn:aws`,
  else a name, turned into `arn:aws:batch:REGION:ACCOUNT:TYPE/NAME` (`constructDefaultARN`);
- `-s s3://bucket/a/b` is bucket `bucket` and key prefix `a/b/`; files go to `<key prefix><basename>`;
  a task gets `PEGASUS_AWS_BATCH_BUCKET=s3://bucket/<key prefix>` and `PEGASUS_JOB_NAME=<jobName>`, and
  its `TRANSFER_INPUT_FILES` becomes its own inputs' basenames then the `-f` files' basenames;
- setup in the order job definition, compute environment, queue, bucket; what was created from a file
  (and the queue and bucket made by default) is deleted when the run ends, in the order queue, compute
  environment (only once the queue is gone), job definition, bucket (only if the run created it).

Where pegasus is wrong, the right thing here (docs/coming-from-pegasus.md):
- running without `-q`: pegasus means to create a queue on the run's compute environment, but `isFile`
  answers false for its "NULL" marker, so it submits to a queue named NULL; here the queue is created.
- a value with `/` that is not a file is refused here (pegasus tries to read it); so is a directory.
- `-s` not starting with `s3://`: pegasus silently uses PREFIX-bucket instead; refused here. `s3://b/`
  gives pegasus the key prefix `/` (keys `/name`); here it is the bucket's top.
- a default ARN's partition follows the region (`aws-cn`, `aws-us-gov`); pegasus always writes `aws`.
- `-d` resolves values as a run does (pegasus hands a file's path to AWS as if it were an ARN); a job
  definition name without `:revision` means every ACTIVE revision (pegasus refuses it, PM-1992);
  `-d -s s3://b/prefix` is refused, since pegasus would empty and delete the whole bucket.
- a name that AWS or S3 would refuse is refused here, before any call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.aws.batch import CE_QUEUE_NAME, NAME
from batchdeploy.aws.s3 import BUCKET_NAME, bucket_problems
from batchdeploy.bags.properties import Settings
from batchdeploy.errors import ConfigError, UsageError
from batchdeploy.userjson import load_json

JOB_DEFINITION, COMPUTE_ENVIRONMENT, JOB_QUEUE, S3_BUCKET = "job_definition", "compute_environment", "job_queue", "s3_bucket"
SUFFIX = {JOB_DEFINITION: "-job-definition", COMPUTE_ENVIRONMENT: "-compute-env", JOB_QUEUE: "-job-queue",
          S3_BUCKET: "-bucket"}
ARN_TYPE = {JOB_DEFINITION: "job-definition", COMPUTE_ENVIRONMENT: "compute-environment", JOB_QUEUE: "job-queue"}
NAME_KEY = {JOB_DEFINITION: "jobDefinitionName", COMPUTE_ENVIRONMENT: "computeEnvironmentName",
            JOB_QUEUE: "jobQueueName"}
FLAG = {JOB_DEFINITION: "-j", COMPUTE_ENVIRONMENT: "--ce", JOB_QUEUE: "-q", S3_BUCKET: "-s"}
ARN_PREFIX = "arn:aws"
S3_PREFIX = "s3://"
NULL_VALUE = "NULL"  # pegasus's marker for "not given, create one"


def check_prefix(prefix: str) -> str:
    """The prefix also names `<prefix>.jobstate.log` in the working directory, so no path in it."""
    if not prefix or "/" in prefix or "\0" in prefix or prefix in (".", ".."):
        raise UsageError(f"-p/--prefix {prefix!r} cannot name files and resources",
                         hint="use letters, digits, '-' and '_'")
    return prefix


def _name_problem(kind: str, name: str, existing: bool = False) -> str | None:
    """Why AWS would refuse `name` for a resource of `kind` (None if it would not). An `existing`
    resource's name is only checked for its characters: it exists, AWS took it."""
    if kind == S3_BUCKET:
        problems = bucket_problems(name)
        return f"bucket {name!r} breaks S3's rules ({'; '.join(problems)})" if problems else None
    base, _, revision = name.partition(":") if kind == JOB_DEFINITION else (name, "", "")
    ok = NAME.fullmatch(base) if kind == JOB_DEFINITION or existing else CE_QUEUE_NAME.fullmatch(name)
    if not ok or (revision and not revision.isdigit()):
        rule = "1-128 of A-Z a-z 0-9 _ -" if kind == JOB_DEFINITION or existing else \
            "3-128 of A-Z a-z 0-9 _ -, starting and ending with a letter or digit"
        return f"{kind.replace('_', ' ')} name {name!r} is not one AWS takes ({rule})"
    return None


def check_name(kind: str, name: str, hint: str = "choose another -p/--prefix", existing: bool = False) -> str:
    problem = _name_problem(kind, name, existing)
    if problem:
        raise UsageError(problem, hint=hint)
    return name


def default_name(prefix: str, kind: str) -> str:
    """`<prefix>-job-definition` and its kin, refused (exit 2) when AWS or S3 would refuse it."""
    return check_name(kind, check_prefix(prefix) + SUFFIX[kind])


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def default_arn(kind: str, name: str, region: str, account: str) -> str:
    """The ARN pegasus builds from a name: arn:aws:batch:REGION:ACCOUNT:TYPE/NAME."""
    return f"arn:{partition(region)}:batch:{region}:{account}:{ARN_TYPE[kind]}/{name}"


def is_file(value: str, cwd: Path) -> bool:
    """pegasus's isFile: not NULL, not an ARN, and a path separator in it or something there."""
    if value.upper() == NULL_VALUE or value.startswith(ARN_PREFIX):
        return False
    return os.sep in value or "/" in value or (cwd / value).exists()


@dataclass(frozen=True)
class Ref:
    """What one of -j/--ce/-q names."""

    kind: str
    source: str  # "file" (created from it), "arn", "name" (an existing resource) or "default" (created)
    name: str | None = None  # the resource's name (for a file: its own name or PREFIX-...)
    arn: str | None = None  # for "arn" and "name": the ARN pegasus would use
    path: Path | None = None  # for "file"
    spec: dict | None = None  # for "file": its JSON


def _from_file(kind: str, value: str, prefix: str, cwd: Path) -> Ref:
    path = Path(value) if Path(value).is_absolute() else cwd / value
    if not path.is_file():
        raise ConfigError(f"{FLAG[kind]} {value} names a file that is " + ("not a file" if path.exists() else "missing"),
                          hint="give a JSON file, an ARN (arn:aws:...) or the name of an existing one")
    spec = load_json(path, f"{kind.replace('_', ' ')} file")
    if not isinstance(spec, dict):
        raise ConfigError(f"{FLAG[kind]} {value} is not a JSON object", hint="use AWS Batch's request format")
    own = spec.get(NAME_KEY[kind])
    if own is not None:
        name = check_name(kind, str(own), hint=f"fix {NAME_KEY[kind]} in {value}")
    else:
        name = default_name(prefix, kind)
    return Ref(kind, "file", name=name, path=path, spec=spec)


def resolve(kind: str, value: str | None, prefix: str, region: str, account: str, cwd: Path) -> Ref:
    """A -j/--ce/-q value as pegasus reads it: a JSON file, an ARN, or a name (-> its default ARN);
    None or NULL -> a resource to create with the default name."""
    if value is None or value.upper() == NULL_VALUE:
        return Ref(kind, "default", name=default_name(prefix, kind))
    if is_file(value, cwd) or value.lower().endswith(".json"):  # a missing jd.json is a file, not a name
        return _from_file(kind, value, prefix, cwd)
    if value.startswith(ARN_PREFIX):
        head, _, rest = value.partition(":batch:")
        if not rest or f":{ARN_TYPE[kind]}/" not in value:
            raise UsageError(f"{FLAG[kind]} {value} is not a {ARN_TYPE[kind]} ARN",
                             hint=f"arn:aws:batch:REGION:ACCOUNT:{ARN_TYPE[kind]}/NAME")
        return Ref(kind, "arn", name=value.rsplit("/", 1)[1], arn=value)
    check_name(kind, value, hint=f"{FLAG[kind]} takes a JSON file, an ARN or a name", existing=True)
    return Ref(kind, "name", name=value, arn=default_arn(kind, value, region, account))


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key_prefix: str = ""  # "" or "a/b/"

    @property
    def url(self) -> str:
        """PEGASUS_AWS_BATCH_BUCKET: s3://bucket/ plus the key prefix."""
        return f"{S3_PREFIX}{self.bucket}/{self.key_prefix}"

    def key(self, basename: str) -> str:
        return self.key_prefix + basename


def parse_s3(value: str) -> S3Location:
    """`-s s3://bucket/a/b` -> S3Location("bucket", "a/b/")."""
    if not value.startswith(S3_PREFIX):
        raise UsageError(f"-s/--s3 {value!r} is not an s3:// URL", hint="write it as s3://BUCKET or s3://BUCKET/PREFIX")
    bucket, _, rest = value[len(S3_PREFIX):].partition("/")
    problems = bucket_problems(bucket) if bucket else ["empty"]
    if problems or not BUCKET_NAME.fullmatch(bucket):
        raise UsageError(f"-s/--s3 {value!r}: bucket {bucket!r} breaks S3's rules ({'; '.join(problems)})",
                         hint="write it as s3://BUCKET/PREFIX")
    parts = rest.strip("/").split("/") if rest.strip("/") else []
    if any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"-s/--s3 {value!r}: the key prefix has empty, '.' or '..' parts", hint="write s3://BUCKET/a/b")
    return S3Location(bucket, "".join(p + "/" for p in parts))


def s3_location(value: str | None, prefix: str) -> S3Location:
    """The run's bucket: -s as given, else PREFIX-bucket (pegasus also takes NULL for "not given")."""
    if value is None or value.upper() == NULL_VALUE:
        return S3Location(default_name(prefix, S3_BUCKET))
    return parse_s3(value)


def task_environment(env: dict[str, str], job_name: str, where: S3Location, common: list[str]) -> dict[str, str]:
    """A task's environment as pegasus submits it: PEGASUS_AWS_BATCH_BUCKET and PEGASUS_JOB_NAME set, and
    TRANSFER_INPUT_FILES its own inputs' basenames (submitfile already rewrote them) then the -f ones."""
    out = dict(env)
    out["PEGASUS_AWS_BATCH_BUCKET"] = where.url
    out["PEGASUS_JOB_NAME"] = job_name
    inputs = [w for w in out.get("TRANSFER_INPUT_FILES", "").split(",") if w] + [Path(f).name for f in common]
    if inputs:
        out["TRANSFER_INPUT_FILES"] = ",".join(inputs)
    return out


@dataclass(frozen=True)
class Step:
    """One thing an executor does: create, use (check it exists) or delete a resource."""

    action: str  # "create", "use" or "delete"
    ref: Ref
    when: str = "always"  # or "if-missing", "if-created" (the bucket), "if-queue-deleted" (the compute env)

    def describe(self) -> str:
        what = self.ref.kind.replace("_", " ")
        target = self.ref.arn or self.ref.name
        src = f" from {self.ref.path}" if self.ref.path and self.action == "create" else ""
        cond = "" if self.when == "always" else f" ({self.when})"
        return f"{self.action} {what} {target}{src}{cond}"


@dataclass(frozen=True)
class Plan:
    """What a pegasus-aws-batch invocation does to its resources, before and after its tasks."""

    mode: str
    setup: tuple[Step, ...] = ()
    teardown: tuple[Step, ...] = ()
    s3: S3Location | None = None

    def describe(self) -> list[str]:
        return [s.describe() for s in self.setup] + [s.describe() for s in self.teardown]


def _queue_needs_ce(ref: Ref) -> bool:
    """A queue to create whose computeEnvironmentOrder leaves the compute environment to the run."""
    if ref.source == "default":
        return True
    if ref.source != "file":
        return False
    order = ref.spec.get("computeEnvironmentOrder")
    if not isinstance(order, list) or not order:
        raise ConfigError(f"-q {ref.path}: computeEnvironmentOrder must be a non-empty array",
                          hint="see the manual's sample-job-queue.json")
    return any(not (isinstance(e, dict) and e.get("computeEnvironment")) for e in order)


def _bucket_ref(location: S3Location) -> Ref:
    return Ref(S3_BUCKET, "default", name=location.bucket)


def _setup_and_teardown(refs: dict[str, Ref], location: S3Location | None) -> tuple[tuple, tuple]:
    setup, teardown = [], []
    for kind in (JOB_DEFINITION, COMPUTE_ENVIRONMENT, JOB_QUEUE):
        ref = refs.get(kind)
        if ref is not None:
            setup.append(Step("create" if ref.source in ("file", "default") else "use", ref))
    if location is not None:
        setup.append(Step("create", _bucket_ref(location), when="if-missing"))
    created = {s.ref.kind for s in setup if s.action == "create"}
    for kind in (JOB_QUEUE, COMPUTE_ENVIRONMENT, JOB_DEFINITION):
        if kind in created:
            when = "if-queue-deleted" if kind == COMPUTE_ENVIRONMENT and JOB_QUEUE in created else "always"
            teardown.append(Step("delete", refs[kind], when=when))
    if location is not None:
        teardown.append(Step("delete", _bucket_ref(location), when="if-created"))
    return tuple(setup), tuple(teardown)


def _delete_plan(s: Settings, cwd: Path) -> Plan:
    steps = []
    given = {JOB_QUEUE: s.job_queue, COMPUTE_ENVIRONMENT: s.compute_environment, JOB_DEFINITION: s.job_definition}
    for kind, value in given.items():
        if value is not None and value.upper() != NULL_VALUE:
            ref = resolve(kind, value, s.prefix, s.region, s.account, cwd)
            if ref.source == "file":  # what that file created: its name, as an ARN
                ref = Ref(kind, "name", name=ref.name, arn=default_arn(kind, ref.name, s.region, s.account))
            when = "if-queue-deleted" if kind == COMPUTE_ENVIRONMENT and s.job_queue else "always"
            steps.append(Step("delete", ref, when=when))
    location = None
    if s.s3 is not None:
        location = parse_s3(s.s3)
        if location.key_prefix:
            raise UsageError(f"-d -s {s.s3}: deleting empties and removes the whole bucket {location.bucket}",
                             hint=f"give -s s3://{location.bucket} to mean that")
        steps.append(Step("delete", _bucket_ref(location)))
    if not steps:
        raise UsageError("-d/--delete names nothing to delete", hint="give -j, --ce, -q or -s (or their properties)")
    return Plan("delete", teardown=tuple(steps), s3=location)


def plan(s: Settings, cwd: Path) -> Plan:
    """The resources of a run (create and delete what it makes, keep what exists), of -c (create or
    check what is given, delete nothing) or of -d (delete what is given)."""
    check_prefix(s.prefix)
    if s.mode == "delete":
        return _delete_plan(s, cwd)
    refs: dict[str, Ref] = {}
    for kind in (JOB_DEFINITION, COMPUTE_ENVIRONMENT, JOB_QUEUE):
        value = getattr(s, kind)
        # Running without -q: a queue on the run's compute environment (none when every task has its own).
        default_queue = s.mode == "run" and kind == JOB_QUEUE and s.compute_environment is not None
        if value is not None or default_queue:
            refs[kind] = resolve(kind, value, s.prefix, s.region, s.account, cwd)
    queue = refs.get(JOB_QUEUE)
    if queue is not None and _queue_needs_ce(queue) and COMPUTE_ENVIRONMENT not in refs:
        raise UsageError("the job queue to create needs a compute environment", hint="give --ce as well")
    location = s3_location(s.s3, s.prefix) if (s.s3 is not None or s.mode == "run") else None
    setup, teardown = _setup_and_teardown(refs, location)
    if not setup:
        raise UsageError("-c/--create names nothing to create", hint="give -j, --ce, -q or -s (or their properties)")
    return Plan(s.mode, setup, teardown if s.mode == "run" else (), location)
