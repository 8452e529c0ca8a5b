"""Job definitions as plain data: check, normalize, hash, diff, and plan a prune. No I/O, no AWS.

A job definition file is AWS Batch's own RegisterJobDefinition request (what
`aws batch register-job-definition --cli-input-json` takes). This module answers, from data alone:

- `check`: every problem AWS would reject it for (botocore's model plus the documented limits the
  model does not carry), each as `json.path: what is wrong`, and warnings for what AWS accepts but
  is probably a mistake;
- `build_request`: the request batchdeploy sends (the user's tags plus the project and hash tags);
- `normalize`: the form two definitions are compared in, so that what AWS adds, drops or reorders
  (revision, ARN, status, default empty lists, environment order, ...) is not taken for a change;
- `changes` / `format_change`: a readable diff (`containerProperties.resourceRequirements MEMORY
  16000 -> 32000`);
- `plan_prune`: which ACTIVE revisions `--prune KEEP` may deregister.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from dataclasses import dataclass, field

from batchdeploy.aws import shapes

PROJECT_TAG = "batchdeploy:project"
HASH_TAG = "batchdeploy:hash"
OUR_TAG_PREFIX = "batchdeploy:"
OUR_TAGS = 2

# AWS Batch's documented limits (service quotas page and the RegisterJobDefinition reference).
MAX_REQUEST_BYTES = 24 * 1024
MAX_TAGS = 50
MIN_TIMEOUT_S = 60
MAX_ATTEMPTS = 10
MAX_EVALUATE_ON_EXIT = 5
MAX_SCHEDULING_PRIORITY = 9999
ACTIVE_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")

_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
# "Up to 255 letters (uppercase and lowercase), numbers, hyphens, underscores, colons, periods,
# forward slashes, and number signs"; `@` for `repository@sha256:digest` references.
_IMAGE = re.compile(r"[A-Za-z0-9_.:/#@-]{1,255}")
_REASON = re.compile(r"[A-Za-z0-9.: \t]*\*?")  # onStatusReason / onReason
_EXIT_CODE = re.compile(r"[0-9]*\*?")
_TAG_TEXT = re.compile(r"[\w\s+\-=.:/@]*", re.UNICODE)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+")
_REF = re.compile(r"Ref::([A-Za-z0-9_-]*)")

# Fargate's valid VCPU -> MEMORY (MiB) pairs, from the ResourceRequirement reference.
_FARGATE_MEMORY = {
    0.25: (512, 1024, 2048),
    0.5: tuple(range(1024, 4097, 1024)),
    1.0: tuple(range(2048, 8193, 1024)),
    2.0: tuple(range(4096, 16385, 1024)),
    4.0: tuple(range(8192, 30721, 1024)),
    8.0: tuple(range(16384, 61441, 4096)),
    16.0: tuple(range(32768, 122881, 8192)),
}

# Fields that are output of DescribeJobDefinitions, never input: a file copied from
# `aws batch describe-job-definitions` has them, and the hint says so.
_OUTPUT_ONLY = {"jobDefinitionArn", "revision", "status", "containerOrchestrationType"}


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __bool__(self):
        return bool(self.problems)


# ---------------------------------------------------------------------------------------------
# Input: tidy, check, build the request
# ---------------------------------------------------------------------------------------------


def tidy(defn):
    """The user's definition with what AWS treats case-insensitively written one way.

    evaluateOnExit `action` is case-insensitive for AWS ("retry" works) but the model's enum is
    upper case; send and compare it upper case.
    """
    defn = copy.deepcopy(defn)
    for strategy in _retry_strategies(defn):
        for item in strategy.get("evaluateOnExit") or []:
            if isinstance(item, dict) and isinstance(item.get("action"), str):
                item["action"] = item["action"].upper()
    return defn


def _retry_strategies(defn):
    if isinstance(defn, dict) and isinstance(defn.get("retryStrategy"), dict):
        yield defn["retryStrategy"]


def check(defn, project: str = "") -> Findings:
    """Everything AWS would reject in `defn` (a tidied RegisterJobDefinition request), at once."""
    f = Findings()
    if not isinstance(defn, dict):
        f.problems.append(f"(top): expected a JSON object, got {_kind(defn)}")
        return f
    for problem in shapes.request("batch", "RegisterJobDefinition", defn):
        f.problems.append(_explain_model_problem(problem))

    _check_name(defn, f)
    _check_kind(defn, f)
    _check_retry(defn, f)
    _check_timeout(defn, f)
    prio = defn.get("schedulingPriority")
    if _is_int(prio) and not 0 <= prio <= MAX_SCHEDULING_PRIORITY:
        f.problems.append(f"schedulingPriority: {prio} is outside 0..{MAX_SCHEDULING_PRIORITY}")
    _check_tags(defn, f)
    fargate = "FARGATE" in (defn.get("platformCapabilities") or [])
    container = defn.get("containerProperties")
    if isinstance(container, dict):
        _check_container(container, "containerProperties", fargate, f, required_resources=True)
    nodes = defn.get("nodeProperties")
    if isinstance(nodes, dict):
        for i, rng in enumerate(nodes.get("nodeRangeProperties") or []):
            if isinstance(rng, dict) and isinstance(rng.get("container"), dict):
                where = f"nodeProperties.nodeRangeProperties[{i}].container"
                _check_container(rng["container"], where, False, f, required_resources=False)
    _check_environments(defn, "", f)
    _check_parameters(defn, f)
    if not f.problems:
        size = request_size(build_request(defn, project or "x" * 64, "0" * 64))
        if size > MAX_REQUEST_BYTES:
            f.problems.append(
                f"(top): the request is {size} bytes, above AWS Batch's limit of {MAX_REQUEST_BYTES} (24 KiB)"
            )
    return f


def _kind(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _explain_model_problem(problem: str) -> str:
    path, _, what = problem.partition(": ")
    if "unknown field" in what and "." not in path and "[" not in path:
        if path in _OUTPUT_ONLY:
            return f"{problem}; it is output of DescribeJobDefinitions, remove it"
        if path in ("vcpus", "memory"):
            return f"{problem}; use containerProperties.resourceRequirements ({path.upper().rstrip('S')})"
        if path in shapes.input_shape("batch", "RegisterJobDefinition").members["containerProperties"].members:
            return f"{problem}; it belongs in containerProperties"
    return problem


def _check_name(defn, f):
    name = defn.get("jobDefinitionName")
    if isinstance(name, str) and not _NAME.fullmatch(name):
        f.problems.append(
            f"jobDefinitionName: {name!r} must be 1 to 128 letters, digits, hyphens and underscores"
        )


def _check_kind(defn, f):
    kind = defn.get("type")
    props = [k for k in ("containerProperties", "eksProperties", "ecsProperties") if k in defn]
    if kind == "container":
        if "nodeProperties" in defn:
            f.problems.append("nodeProperties: only for type multinode")
        if not props:
            f.problems.append("containerProperties: required for type container (or eksProperties/ecsProperties)")
        elif len(props) > 1:
            f.problems.append(f"{props[1]}: give only one of {', '.join(props)}")
    elif kind == "multinode":
        if "nodeProperties" not in defn:
            f.problems.append("nodeProperties: required for type multinode")
        for key in props:
            f.problems.append(f"{key}: not allowed for type multinode (put it in nodeProperties.nodeRangeProperties)")


def _check_retry(defn, f):
    strategy = defn.get("retryStrategy")
    if not isinstance(strategy, dict):
        return
    attempts = strategy.get("attempts")
    if _is_int(attempts) and not 1 <= attempts <= MAX_ATTEMPTS:
        f.problems.append(f"retryStrategy.attempts: {attempts} is outside 1..{MAX_ATTEMPTS}")
    rules = strategy.get("evaluateOnExit")
    if not isinstance(rules, list):
        return
    if rules and attempts is None:
        f.problems.append("retryStrategy.attempts: required when evaluateOnExit is given")
    if len(rules) > MAX_EVALUATE_ON_EXIT:
        f.problems.append(f"retryStrategy.evaluateOnExit: {len(rules)} rules, AWS allows at most {MAX_EVALUATE_ON_EXIT}")
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        where = f"retryStrategy.evaluateOnExit[{i}]"
        for key in ("onStatusReason", "onReason"):
            value = rule.get(key)
            if isinstance(value, str) and (len(value) > 512 or not _REASON.fullmatch(value)):
                f.problems.append(
                    f"{where}.{key}: {value!r}: at most 512 letters, digits, periods, colons and spaces, "
                    "optionally ending in *"
                )
        value = rule.get("onExitCode")
        if isinstance(value, str) and (len(value) > 512 or not _EXIT_CODE.fullmatch(value)):
            f.problems.append(f"{where}.onExitCode: {value!r}: only digits, optionally ending in *")


def _check_timeout(defn, f):
    timeout = defn.get("timeout")
    if isinstance(timeout, dict):
        seconds = timeout.get("attemptDurationSeconds")
        if _is_int(seconds) and seconds < MIN_TIMEOUT_S:
            f.problems.append(
                f"timeout.attemptDurationSeconds: {seconds} is below AWS Batch's minimum of {MIN_TIMEOUT_S} seconds"
            )


def _check_tags(defn, f):
    tags = defn.get("tags")
    if not isinstance(tags, dict):
        return
    if len(tags) + OUR_TAGS > MAX_TAGS:
        f.problems.append(
            f"tags: {len(tags)} tags plus batchdeploy's {OUR_TAGS} ({PROJECT_TAG}, {HASH_TAG}) exceed "
            f"AWS's limit of {MAX_TAGS}"
        )
    for key, value in tags.items():
        if key.lower().startswith("aws:"):
            f.problems.append(f"tags key {key!r}: the aws: prefix is reserved for AWS")
        elif key.startswith(OUR_TAG_PREFIX):
            f.problems.append(f"tags key {key!r}: the {OUR_TAG_PREFIX} prefix is batchdeploy's own")
        elif not _TAG_TEXT.fullmatch(key):
            f.problems.append(f"tags key {key!r}: only letters, digits, spaces and + - = . _ : / @")
        if isinstance(value, str) and not _TAG_TEXT.fullmatch(value):
            f.problems.append(f"tags.{key}: {value!r}: only letters, digits, spaces and + - = . _ : / @")


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _check_container(c, where, fargate, f, required_resources):
    image = c.get("image")
    if isinstance(image, str) and not _IMAGE.fullmatch(image):
        f.problems.append(
            f"{where}.image: {image!r} must be 1 to 255 letters, digits and - _ : . / # @ (no spaces)"
        )
    for key in ("jobRoleArn", "executionRoleArn"):
        value = c.get(key)
        if isinstance(value, str):
            if not value.strip():
                f.problems.append(f"{where}.{key}: empty (is its placeholder set in .aws_env?)")
            elif not _ROLE_ARN.fullmatch(value):
                f.warnings.append(f"{where}.{key}: {value!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    if fargate and not c.get("executionRoleArn"):
        f.problems.append(f"{where}.executionRoleArn: required for jobs that run on Fargate")

    # Resources: each type at most once, well-formed numbers, and not also in the deprecated fields.
    reqs = c.get("resourceRequirements")
    seen: dict[str, str] = {}
    if isinstance(reqs, list):
        for i, req in enumerate(reqs):
            if not isinstance(req, dict) or not isinstance(req.get("type"), str):
                continue
            kind, value = req["type"], req.get("value")
            if kind in seen:
                f.problems.append(f"{where}.resourceRequirements[{i}]: {kind} is given twice")
                continue
            seen[kind] = value
            if not isinstance(value, str):
                continue
            number = _number(value)
            at = f"{where}.resourceRequirements[{i}].value"
            if kind == "VCPU" and (number is None or number <= 0):
                f.problems.append(f"{at}: VCPU {value!r} must be a positive number")
            elif kind == "MEMORY" and (number is None or number != int(number) or number < 4):
                f.problems.append(f"{at}: MEMORY {value!r} must be a whole number of MiB, at least 4")
            elif kind == "GPU":
                if number is None or number != int(number) or number < 1:
                    f.problems.append(f"{at}: GPU {value!r} must be a whole number, at least 1")
                if fargate:
                    f.problems.append(f"{at}: GPUs are not available on Fargate")
    for old, kind in (("vcpus", "VCPU"), ("memory", "MEMORY")):
        if old not in c:
            continue
        if kind in seen:
            f.problems.append(f"{where}.{old}: give {kind} only once, in resourceRequirements (not also {old})")
        elif fargate:
            f.problems.append(f"{where}.{old}: not supported on Fargate; use resourceRequirements {kind}")
        else:
            f.warnings.append(
                f"{where}.{old} is deprecated; use resourceRequirements "
                f'[{{"type": "{kind}", "value": "{c[old]}"}}] instead'
            )
            seen[kind] = str(c[old])
    if required_resources:
        for kind in ("VCPU", "MEMORY"):
            if kind not in seen:
                f.problems.append(f"{where}.resourceRequirements: {kind} is required by AWS Batch")
    if fargate and isinstance(seen.get("VCPU"), str) and isinstance(seen.get("MEMORY"), str):
        vcpu, memory = _number(seen["VCPU"]), _number(seen["MEMORY"])
        if vcpu is not None and memory is not None:
            allowed = _FARGATE_MEMORY.get(vcpu)
            if allowed is None:
                f.problems.append(
                    f"{where}.resourceRequirements: Fargate VCPU must be one of 0.25, 0.5, 1, 2, 4, 8, 16 "
                    f"(got {seen['VCPU']})"
                )
            elif int(memory) not in allowed or memory != int(memory):
                f.problems.append(
                    f"{where}.resourceRequirements: Fargate with VCPU {seen['VCPU']} takes MEMORY "
                    f"{allowed[0]}..{allowed[-1]} in the documented steps (got {seen['MEMORY']})"
                )


def _check_environments(node, path, f):
    """Every environment-like list anywhere (container, node ranges, ECS/EKS containers)."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else key
            if key in ("environment", "env", "secrets") and isinstance(value, list):
                _check_env_list(value, where, key == "secrets", f)
            else:
                _check_environments(value, where, f)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _check_environments(item, f"{path}[{i}]", f)


def _check_env_list(items, where, secrets, f):
    from batchdeploy.secrets import is_secret

    names: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        at = f"{where}[{i}]"
        if not name:
            f.problems.append(f"{at}.name: empty")
        if name.startswith("AWS_BATCH"):
            f.problems.append(f"{at}.name: {name!r}: names starting with AWS_BATCH are reserved by AWS Batch")
        if name in names:
            f.problems.append(f"{at}.name: {name!r} is given twice")
        names.add(name)
        if secrets:
            continue
        value = item.get("value")
        if value == "":
            f.warnings.append(f"{at} {name}: empty value; AWS Batch drops empty variables, the job will not see it")
        elif isinstance(value, str):
            if is_secret(name):
                f.warnings.append(
                    f"{at} {name}: looks like a secret; environment values are readable by anyone allowed "
                    "batch:DescribeJobDefinitions: use containerProperties.secrets (Secrets Manager or SSM)"
                )
            if _REF.search(value):
                f.warnings.append(f"{at} {name}: AWS Batch fills Ref:: placeholders only in command, not here")


def _check_parameters(defn, f):
    params = defn.get("parameters")
    if not isinstance(params, dict) or not params:
        return
    used = set(ref_names(defn))
    for key in params:
        if key not in used:
            f.warnings.append(f"parameters.{key}: no Ref::{key} in any command uses it")


def ref_names(defn) -> list[str]:
    """The `Ref::` names the commands of `defn` use, in order of first use."""
    names: list[str] = []

    def walk(node, in_command):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, in_command or k == "command")
        elif isinstance(node, list):
            for item in node:
                walk(item, in_command)
        elif isinstance(node, str) and in_command:
            for name in _REF.findall(node):
                if name and name not in names:
                    names.append(name)

    walk(defn, False)
    return names


def build_request(defn, project: str, content_hash: str | None = None) -> dict:
    """The RegisterJobDefinition request: `defn` with the project tag (and the hash tag) merged in."""
    request = copy.deepcopy(defn)
    tags = dict(request.get("tags") or {})
    tags[PROJECT_TAG] = project
    if content_hash is not None:
        tags[HASH_TAG] = content_hash
    request["tags"] = tags
    return request


def request_size(request) -> int:
    """Bytes on the wire (compact JSON, UTF-8), which is what the 24 KiB limit counts."""
    return len(json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Normalization: what counts as "the same definition"
# ---------------------------------------------------------------------------------------------

# Lists whose order means nothing to AWS Batch, and the key that identifies an item. Order that
# does mean something is left alone: command (argv), evaluateOnExit (first match wins),
# nodeRangeProperties, EKS containers.
_KEYED_LISTS = {
    "environment": ("name",),
    "env": ("name",),
    "secrets": ("name",),
    "secretOptions": ("name",),
    "resourceRequirements": ("type",),
    "ulimits": ("name",),
    "volumes": ("name",),
    "mountPoints": ("sourceVolume", "containerPath"),
    "devices": ("hostPath", "containerPath"),
    "tmpfs": ("containerPath",),
}
_SETS = {"platformCapabilities", "permissions"}

# Values that mean the same as leaving the field out (AWS's documented defaults, some of which
# DescribeJobDefinitions fills in).
_DEFAULTS = {
    "propagateTags": False,
    "privileged": False,
    "readonlyRootFilesystem": False,
    "enableExecuteCommand": False,
    "initProcessEnabled": False,
    "readOnly": False,
    "platformCapabilities": ["EC2"],
    "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
    "networkConfiguration": {"assignPublicIp": "DISABLED"},
    "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
    "hostNetwork": True,  # EKS pods
}


def _input_members(shape, value):
    """Keep only what RegisterJobDefinition can set: drops revision, ARN, status, and whatever else
    DescribeJobDefinitions (or moto) adds that is not input."""
    if value is None:
        return None
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        return {k: _input_members(shape.members[k], v) for k, v in value.items() if k in shape.members}
    if t == "list" and isinstance(value, list):
        return [_input_members(shape.member, v) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: _input_members(shape.value, v) for k, v in value.items()}
    return value


def _prune_empty(value):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _prune_empty(v)
            if v is None or v == [] or v == {}:
                continue
            if k in _DEFAULTS and v == _DEFAULTS[k]:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_prune_empty(v) for v in value]
    return value


def _sort_key(item, keys):
    if isinstance(item, dict):
        return tuple(str(item.get(k, "")) for k in keys) + (json.dumps(item, sort_keys=True),)
    return ("", json.dumps(item, sort_keys=True))


def _order(value, key=None):
    if isinstance(value, dict):
        return {k: _order(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_order(v) for v in value]
        if key in _KEYED_LISTS:
            return sorted(items, key=lambda item: _sort_key(item, _KEYED_LISTS[key]))
        if key in _SETS:
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return items
    return value


def _undeprecate(container):
    """`vcpus`/`memory` (deprecated) as the resourceRequirements AWS treats them as."""
    if not isinstance(container, dict):
        return
    reqs = [r for r in container.get("resourceRequirements") or [] if isinstance(r, dict)]
    have = {r.get("type") for r in reqs}
    for old, kind in (("vcpus", "VCPU"), ("memory", "MEMORY")):
        if old in container:
            value = container.pop(old)
            if kind not in have and value is not None:
                reqs.append({"type": kind, "value": _plain_number(value)})
    if reqs:
        container["resourceRequirements"] = reqs


def _plain_number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _containers(defn):
    if isinstance(defn.get("containerProperties"), dict):
        yield defn["containerProperties"]
    nodes = defn.get("nodeProperties")
    if isinstance(nodes, dict):
        for rng in nodes.get("nodeRangeProperties") or []:
            if isinstance(rng, dict) and isinstance(rng.get("container"), dict):
                yield rng["container"]


def _drop_empty_env(node):
    """AWS Batch ignores environment variables whose value is empty (never stored, never returned)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("environment", "env") and isinstance(v, list):
                node[k] = [e for e in v if not (isinstance(e, dict) and e.get("value") in ("", None))]
            else:
                _drop_empty_env(v)
    elif isinstance(node, list):
        for item in node:
            _drop_empty_env(item)


def normalize(defn) -> dict:
    """The comparable form of a job definition: a file's request or a DescribeJobDefinitions entry.

    Two definitions that AWS Batch would run the same way normalize to equal dicts: output-only
    fields, our hash tag, empty lists/maps, documented defaults, empty environment values, the
    deprecated vcpus/memory spelling and the order of order-free lists are all taken out.
    """
    shape = shapes.input_shape("batch", "RegisterJobDefinition")
    d = _input_members(shape, copy.deepcopy(defn)) or {}
    d = tidy(d)
    tags = d.get("tags")
    if isinstance(tags, dict):
        tags.pop(HASH_TAG, None)
    for container in _containers(d):
        _undeprecate(container)
    strategy = d.get("retryStrategy")
    if isinstance(strategy, dict) and not strategy.get("evaluateOnExit") and strategy.get("attempts") in (1, None):
        d.pop("retryStrategy")  # one attempt, no rules: the default
    _drop_empty_env(d)
    d = _prune_empty(d)
    return _order(d)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(defn) -> str:
    """sha256 of the normalized definition (our hash tag excluded): the same for any two
    definitions batchdeploy treats as unchanged."""
    return hashlib.sha256(canonical_json(normalize(defn)).encode("utf-8")).hexdigest()


def same(a, b) -> bool:
    return normalize(a) == normalize(b)


# ---------------------------------------------------------------------------------------------
# Diff
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    path: str
    before: object  # _ABSENT when added
    after: object  # _ABSENT when removed

    def as_json(self) -> dict:
        out = {"path": self.path}
        if self.before is not ABSENT:
            out["before"] = self.before
        if self.after is not ABSENT:
            out["after"] = self.after
        return out


class _Absent:
    def __repr__(self):
        return "(none)"


ABSENT = _Absent()


def _item_key(item, keys) -> str:
    return ":".join(str(item.get(k, "")) for k in keys if item.get(k) is not None)


def _flatten(value, path, out, key=None):
    if isinstance(value, dict):
        if not value:
            out[path] = value
        for k, v in value.items():
            _flatten(v, f"{path}.{k}" if path else k, out, k)
        return
    if isinstance(value, list):
        if key in _KEYED_LISTS and all(isinstance(v, dict) for v in value):
            keys = _KEYED_LISTS[key]
            for item in value:
                rest = {k: v for k, v in item.items() if k not in keys}
                label = f"{path} {_item_key(item, keys)}"
                if set(rest) == {"value"}:
                    out[label] = rest["value"]
                elif set(rest) == {"valueFrom"}:
                    out[label] = rest["valueFrom"]
                else:
                    _flatten(rest, label, out)
            return
        if value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                _flatten(item, f"{path}[{i}]", out)
            return
        out[path] = value
        return
    out[path] = value


def changes(before, after) -> list[Change]:
    """What differs between two definitions, field by field, after normalization.

    `before` may be None (nothing registered yet): every field is then an addition.
    """
    old: dict = {}
    new: dict = {}
    if before is not None:
        _flatten(normalize(before), "", old)
    _flatten(normalize(after), "", new)
    out = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path, ABSENT), new.get(path, ABSENT)
        if a != b:
            out.append(Change(path, a, b))
    return out


def _show(value) -> str:
    if value is ABSENT:
        return "(none)"
    if isinstance(value, str):
        return value if value and not re.search(r"\s", value) and value != "(none)" else json.dumps(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _secret_path(path: str) -> bool:
    from batchdeploy.secrets import is_secret

    m = re.search(r"(?:^|\.)(?:environment|env) (\S+)$", path)
    return bool(m and is_secret(m.group(1)))


def format_change(change: Change) -> str:
    """`containerProperties.resourceRequirements MEMORY 16000 -> 32000`; secret-looking
    environment values are masked."""
    before, after = change.before, change.after
    if _secret_path(change.path):
        before = before if before is ABSENT else "****"
        after = after if after is ABSENT else "****"
    return f"{change.path} {_show(before)} -> {_show(after)}"


# ---------------------------------------------------------------------------------------------
# Prune
# ---------------------------------------------------------------------------------------------


def parse_ref(text: str):
    """`NAME:REV` or a job definition ARN -> (NAME, REV); None for anything else."""
    if not isinstance(text, str):
        return None
    if text.startswith("arn:"):
        _, _, text = text.partition(":job-definition/")
    name, sep, rev = text.rpartition(":")
    if not sep or not rev.isdigit() or not _NAME.fullmatch(name):
        return None
    return name, int(rev)


@dataclass
class PrunePlan:
    deregister: list[dict] = field(default_factory=list)  # the revisions (DescribeJobDefinitions entries)
    kept_in_use: list[tuple[dict, list[str]]] = field(default_factory=list)  # revision, jobs using it
    foreign: list[dict] = field(default_factory=list)  # tagged with another project: never touched


def prune_candidates(revisions: list[dict], keep: int, planned_new: bool = False, protect=()) -> list[dict]:
    """ACTIVE revisions of one name older than the newest `keep` (a registration still to come
    counts as the newest), minus the ones in `protect` (revision numbers)."""
    active = sorted((r for r in revisions if r.get("status", "ACTIVE") == "ACTIVE"), key=lambda r: -r["revision"])
    kept = keep - 1 if planned_new else keep
    return [r for r in active[max(kept, 0):] if r["revision"] not in set(protect)]


def plan_prune(revisions: list[dict], keep: int, project: str, in_use: dict, planned_new=False, protect=()):
    """Split the candidates of one name into deregister / in use / another project's.

    `in_use` maps (name, revision) to the ids of active jobs using that revision.
    """
    plan = PrunePlan()
    for rev in prune_candidates(revisions, keep, planned_new, protect):
        owner = (rev.get("tags") or {}).get(PROJECT_TAG)
        users = in_use.get((rev["jobDefinitionName"], rev["revision"]))
        if owner not in (None, project):
            plan.foreign.append(rev)
        elif users:
            plan.kept_in_use.append((rev, users))
        else:
            plan.deregister.append(rev)
    return plan
