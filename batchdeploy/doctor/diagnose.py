"""The checks in order, what the job asks for, and the verdict: can the job ever run as things stand?"""

from __future__ import annotations

from dataclasses import dataclass

from batchdeploy.doctor import checks, reach
from batchdeploy.doctor.model import Facts, Finding, Shape

# The order of docs/doctor.md's "Stuck in RUNNABLE" list.
CHECKS = (
    checks.job_reason, checks.queue_state, checks.ce_state, checks.fit, checks.platform, checks.capacity,
    checks.spot, reach.network, reach.roles, reach.image,
)


@dataclass
class Diagnosis:
    facts: Facts
    findings: list[Finding]
    blocking: list[Finding]  # why the job can never run as things stand (empty: it may still)

    @property
    def unschedulable(self) -> bool:
        return bool(self.blocking)


def diagnose(facts: Facts) -> Diagnosis:
    findings = [finding for check in CHECKS for finding in check(facts)]
    return Diagnosis(facts, findings, blocking(findings, [ce.get("computeEnvironmentArn") for ce in facts.ces]))


def blocking(findings: list[Finding], ce_arns: list[str | None]) -> list[Finding]:
    """The findings that make the job unschedulable: one about the job or the queue that never
    resolves, or every compute environment of the queue with one that never does."""
    never = [f for f in findings if f.never]
    whole = [f for f in never if f.ce is None]
    if whole:
        return whole
    if ce_arns and all(any(f.ce == arn for f in never) for arn in ce_arns):
        return never
    return []


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def shape_of(container: dict | None, platforms: list[str] | None = None) -> Shape:
    """What a container asks for: resourceRequirements (VCPU, MEMORY, GPU), else the legacy
    vcpus/memory fields. The platform is the first of platformCapabilities (EC2 when absent)."""
    c = container or {}
    req = {r.get("type"): r.get("value") for r in c.get("resourceRequirements") or []}
    vcpus = _number(req.get("VCPU")) or _number(c.get("vcpus")) or 1.0
    memory = _number(req.get("MEMORY")) or _number(c.get("memory")) or 0
    gpus = _number(req.get("GPU")) or 0
    platform = (platforms or ["EC2"])[0]
    return Shape(vcpus=vcpus, memory=int(memory), gpus=int(gpus), platform=platform)


def with_overrides(base: Shape, overrides: dict | None) -> Shape:
    """`base` with a SubmitJob containerOverrides' resourceRequirements applied."""
    req = {r.get("type"): r.get("value") for r in (overrides or {}).get("resourceRequirements") or []}
    return Shape(
        vcpus=_number(req.get("VCPU")) or base.vcpus,
        memory=int(_number(req.get("MEMORY")) or base.memory),
        gpus=int(_number(req.get("GPU")) or base.gpus),
        platform=base.platform,
    )
