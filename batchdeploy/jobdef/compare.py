"""When two job definitions are the same: normalize, content hash, field-by-field changes. No I/O.

`normalize` gives the form two definitions are compared in, so that what AWS adds, drops or reorders
(revision, ARN, status, default empty lists, environment order, ...) is not taken for a change;
`changes` / `format_change` give a readable diff (`containerProperties.resourceRequirements MEMORY
16000 -> 32000`), secret-looking environment values masked.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass

from batchdeploy.aws import shapes
from batchdeploy.aws.tags import TAG_HASH
from batchdeploy.jobdef.check import tidy
from batchdeploy.secrets import is_secret

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
        tags.pop(TAG_HASH, None)
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

