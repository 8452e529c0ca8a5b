"""A job definition's container checked as AWS Batch would check it: image, roles, resources (each
type once, well-formed numbers, the deprecated vcpus/memory fields) and Fargate's VCPU/MEMORY pairs.

Part of `jobs.definition.check`; each problem is appended to `f.problems`, each warning to `f.warnings`.
"""

from __future__ import annotations

import math
import re

# "Up to 255 letters (uppercase and lowercase), numbers, hyphens, underscores, colons, periods,
# forward slashes, and number signs"; `@` for `repository@sha256:digest` references.
_IMAGE = re.compile(r"[A-Za-z0-9_.:/#@-]{1,255}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+")

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



def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None



def check_container(c, where, fargate, f, required_resources):
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
    seen = _check_resources(c, where, fargate, f)
    if required_resources:
        for kind in ("VCPU", "MEMORY"):
            if kind not in seen:
                f.problems.append(f"{where}.resourceRequirements: {kind} is required by AWS Batch")
    if fargate and isinstance(seen.get("VCPU"), str) and isinstance(seen.get("MEMORY"), str):
        _check_fargate_pair(seen["VCPU"], seen["MEMORY"], where, f)


def _check_resources(c, where, fargate, f) -> dict[str, str]:
    """Each type at most once, well-formed numbers, and not also in the deprecated fields. Returns the
    value given for each type."""
    reqs = c.get("resourceRequirements")
    seen: dict[str, str] = {}
    for i, req in enumerate(reqs if isinstance(reqs, list) else []):
        if not isinstance(req, dict) or not isinstance(req.get("type"), str):
            continue
        kind, value = req["type"], req.get("value")
        if kind in seen:
            f.problems.append(f"{where}.resourceRequirements[{i}]: {kind} is given twice")
            continue
        seen[kind] = value
        if isinstance(value, str):
            _check_amount(kind, value, f"{where}.resourceRequirements[{i}].value", fargate, f)
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
    return seen


def _check_amount(kind: str, value: str, at: str, fargate: bool, f) -> None:
    number = _number(value)
    if kind == "VCPU" and (number is None or number <= 0):
        f.problems.append(f"{at}: VCPU {value!r} must be a positive number")
    elif kind == "MEMORY" and (number is None or number != int(number) or number < 4):
        f.problems.append(f"{at}: MEMORY {value!r} must be a whole number of MiB, at least 4")
    elif kind == "GPU":
        if number is None or number != int(number) or number < 1:
            f.problems.append(f"{at}: GPU {value!r} must be a whole number, at least 1")
        if fargate:
            f.problems.append(f"{at}: GPUs are not available on Fargate")


def _check_fargate_pair(vcpu_text: str, memory_text: str, where: str, f) -> None:
    vcpu, memory = _number(vcpu_text), _number(memory_text)
    if vcpu is None or memory is None:
        return
    allowed = _FARGATE_MEMORY.get(vcpu)
    if allowed is None:
        f.problems.append(
            f"{where}.resourceRequirements: Fargate VCPU must be one of 0.25, 0.5, 1, 2, 4, 8, 16 (got {vcpu_text})"
        )
    elif int(memory) not in allowed or memory != int(memory):
        f.problems.append(
            f"{where}.resourceRequirements: Fargate with VCPU {vcpu_text} takes MEMORY "
            f"{allowed[0]}..{allowed[-1]} in the documented steps (got {memory_text})"
        )
