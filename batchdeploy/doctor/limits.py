"""AWS's facts the checks need, written once: instance families behind Batch's aliases, Fargate's
valid vCPU/memory pairs, the service role's managed policy, the endpoints an image pull needs."""

from __future__ import annotations

from fnmatch import fnmatchcase

# Batch's instanceTypes aliases (the Batch user guide, "Compute environments"). "optimal" is the
# C4, M4 and R4 families (newer families in some regions; AWS says so, we check these).
ALIASES = {
    "optimal": ("c4", "m4", "r4"),
    "default_x86_64": ("m6i", "c6i", "r6i", "c7i"),
    "default_arm64": ("m6g", "c6g", "r6g", "c7g"),
}

# Fargate: each vCPU value and the memory (MiB) it allows (AWS Batch on Fargate, "resourceRequirements").
_GB = 1024
FARGATE_MEMORY = {
    0.25: (512, 1 * _GB, 2 * _GB),
    0.5: tuple(range(1 * _GB, 4 * _GB + 1, _GB)),
    1.0: tuple(range(2 * _GB, 8 * _GB + 1, _GB)),
    2.0: tuple(range(4 * _GB, 16 * _GB + 1, _GB)),
    4.0: tuple(range(8 * _GB, 30 * _GB + 1, _GB)),
    8.0: tuple(range(16 * _GB, 60 * _GB + 1, 4 * _GB)),
    16.0: tuple(range(32 * _GB, 120 * _GB + 1, 8 * _GB)),
}
FARGATE_TYPES = frozenset({"FARGATE", "FARGATE_SPOT"})
SPOT_TYPES = frozenset({"SPOT", "FARGATE_SPOT"})

SERVICE_ROLE_POLICY = "arn:aws:iam::aws:policy/service-role/AWSBatchServiceRole"
# What pulling an ECR image takes from a subnet with no route out: these interface/gateway endpoints.
PULL_ENDPOINTS = ("ecr.api", "ecr.dkr", "s3")


def type_patterns(allowed: list[str]) -> list[str]:
    """A compute environment's instanceTypes as DescribeInstanceTypes `instance-type` filter values:
    an exact type stays itself, a family ("c5") becomes "c5.*", an alias its families."""
    out: list[str] = []
    for entry in allowed:
        families = ALIASES.get(entry)
        if families:
            out += [f"{f}.*" for f in families]
        elif "." in entry:
            out.append(entry)
        else:
            out.append(f"{entry}.*")
    return list(dict.fromkeys(out))


def allows(allowed: list[str], type_name: str) -> bool:
    return any(fnmatchcase(type_name, p) for p in type_patterns(allowed))


def fargate_fits(vcpus: float, memory: int) -> bool:
    return memory in FARGATE_MEMORY.get(float(vcpus), ())


def fargate_pairs_text(vcpus: float) -> str:
    allowed = FARGATE_MEMORY.get(float(vcpus))
    if not allowed:
        return "vCPUs must be one of " + ", ".join(f"{v:g}" for v in FARGATE_MEMORY)
    if len(allowed) <= 4:
        return f"with {vcpus:g} vCPU, memory must be one of " + ", ".join(str(m) for m in allowed) + " MiB"
    return f"with {vcpus:g} vCPU, memory must be {allowed[0]}..{allowed[-1]} MiB in steps of {_step(allowed)} MiB"


def _step(values: tuple[int, ...]) -> int:
    return values[1] - values[0] if len(values) > 1 else values[0]
