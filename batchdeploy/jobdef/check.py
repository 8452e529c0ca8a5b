"""A job definition as plain data: tidy it, check it, build its RegisterJobDefinition request. No I/O.

A job definition file is AWS Batch's own RegisterJobDefinition request (what
`aws batch register-job-definition --cli-input-json` takes). From data alone:

- `check`: every problem AWS would reject it for (botocore's model plus the documented limits the
  model does not carry), each as `json.path: what is wrong`, and warnings for what AWS accepts but
  is probably a mistake;
- `build_request`: the request batchdeploy sends (the user's tags plus the project and hash tags);
- `ref_names`: the `Ref::` parameters its commands use (the one grammar, `aws.batch.REF`).

Comparing two definitions is `jobs.compare`; which old revisions may go is `jobs.prune`.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field

from batchdeploy.aws import shapes
from batchdeploy.aws.batch import (
    ATTEMPTS,
    MAX_EVALUATE_ON_EXIT,
    MAX_JOB_DEFINITION_BYTES,
    MAX_SCHEDULING_PRIORITY,
    MAX_TAGS,
    MIN_TIMEOUT_S,
    NAME,
    REF,
)
from batchdeploy.aws.batch import ref_names as _refs_in
from batchdeploy.aws.tags import TAG_HASH, TAG_NAMESPACE, TAG_PROJECT
from batchdeploy.jobdef.container import check_container
from batchdeploy.secrets import is_secret

OUR_TAGS = 2  # TAG_PROJECT and TAG_HASH, on every definition -u registers

_REASON = re.compile(r"[A-Za-z0-9.: \t]*\*?")  # onStatusReason / onReason
_EXIT_CODE = re.compile(r"[0-9]*\*?")
_TAG_TEXT = re.compile(r"[\w\s+\-=.:/@]*", re.UNICODE)

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
        check_container(container, "containerProperties", fargate, f, required_resources=True)
    nodes = defn.get("nodeProperties")
    if isinstance(nodes, dict):
        for i, rng in enumerate(nodes.get("nodeRangeProperties") or []):
            if isinstance(rng, dict) and isinstance(rng.get("container"), dict):
                where = f"nodeProperties.nodeRangeProperties[{i}].container"
                check_container(rng["container"], where, False, f, required_resources=False)
    _check_environments(defn, "", f)
    _check_parameters(defn, f)
    if not f.problems:
        size = request_size(build_request(defn, project or "x" * 64, "0" * 64))
        if size > MAX_JOB_DEFINITION_BYTES:
            f.problems.append(
                f"(top): the request is {size} bytes, above AWS Batch's limit of {MAX_JOB_DEFINITION_BYTES} (24 KiB)"
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
    if isinstance(name, str) and not NAME.fullmatch(name):
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
    if _is_int(attempts) and not 1 <= attempts <= ATTEMPTS[1]:
        f.problems.append(f"retryStrategy.attempts: {attempts} is outside 1..{ATTEMPTS[1]}")
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
            f"tags: {len(tags)} tags plus batchdeploy's {OUR_TAGS} ({TAG_PROJECT}, {TAG_HASH}) exceed "
            f"AWS's limit of {MAX_TAGS}"
        )
    for key, value in tags.items():
        if key.lower().startswith("aws:"):
            f.problems.append(f"tags key {key!r}: the aws: prefix is reserved for AWS")
        elif key.startswith(TAG_NAMESPACE):
            f.problems.append(f"tags key {key!r}: the {TAG_NAMESPACE} prefix is batchdeploy's own")
        elif not _TAG_TEXT.fullmatch(key):
            f.problems.append(f"tags key {key!r}: only letters, digits, spaces and + - = . _ : / @")
        if isinstance(value, str) and not _TAG_TEXT.fullmatch(value):
            f.problems.append(f"tags.{key}: {value!r}: only letters, digits, spaces and + - = . _ : / @")

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
            if REF.search(value):
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
            for name in _refs_in(node):
                if name not in names:
                    names.append(name)

    walk(defn, False)
    return names


def build_request(defn, project: str, content_hash: str | None = None) -> dict:
    """The RegisterJobDefinition request: `defn` with the project tag (and the hash tag) merged in."""
    request = copy.deepcopy(defn)
    tags = dict(request.get("tags") or {})
    tags[TAG_PROJECT] = project
    if content_hash is not None:
        tags[TAG_HASH] = content_hash
    request["tags"] = tags
    return request


def request_size(request) -> int:
    """Bytes on the wire (compact JSON, UTF-8), which is what the 24 KiB limit counts."""
    return len(json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
