"""The doctor's checks: pure functions over `Facts`, each returning its findings. `CHECKS` is the
order they run in, and docs/doctor.md's list follows it."""

from __future__ import annotations

from batchdeploy.doctor import limits
from batchdeploy.doctor.model import Facts, Finding

FIX_BY_REASON = {
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT": "lower the job's vcpus/memory/gpus (--vcpus/--memory/--gpus) "
    "or add an instance type that holds them to a compute environment of the queue",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE": "raise the compute environment's maxvCpus above the job's vCPUs",
    "MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS": "attach AWSBatchServiceRole to the compute environment's service role",
}


def ce_name(ce: dict) -> str:
    return ce.get("computeEnvironmentName") or ce.get("computeEnvironmentArn", "?")


def ce_arn(ce: dict) -> str:
    return ce.get("computeEnvironmentArn") or ce_name(ce)


def ce_resources(ce: dict) -> dict:
    return ce.get("computeResources") or {}


def is_managed(ce: dict) -> bool:
    return ce.get("type", "MANAGED") == "MANAGED" and bool(ce_resources(ce))


def job_reason(f: Facts) -> list[Finding]:
    """The job's statusReason when AWS gave one: MISCONFIGURATION:* never resolves by waiting."""
    job = f.job or {}
    reason = (job.get("statusReason") or "").strip()
    if not reason or job.get("status") not in ("RUNNABLE", "SUBMITTED", "PENDING"):
        return []
    code = reason.split(" ", 1)[0].rstrip(" -")
    never = code.startswith("MISCONFIGURATION:")
    fix = FIX_BY_REASON.get(code) or ("fix what AWS names, then submit again" if never else "see AWS's reason")
    return [Finding("job-reason", f"AWS says: {reason}", job.get("jobArn") or job.get("jobId", "?"), fix, never)]


def queue_state(f: Facts) -> list[Finding]:
    q = f.queue or {}
    out, arn, name = [], q.get("jobQueueArn", "?"), q.get("jobQueueName", "?")
    if q.get("status") == "INVALID":
        out.append(Finding("queue-invalid", f"job queue {name} is INVALID: {q.get('statusReason') or 'no reason given'}",
                           arn, "fix its compute environments (the reason names them) or recreate the queue", True))
    if q.get("state") == "DISABLED":
        out.append(Finding("queue-disabled", f"job queue {name} is DISABLED: it takes no new jobs", arn,
                           f"aws batch update-job-queue --job-queue {name} --state ENABLED"))
    if q and not f.ces:
        out.append(Finding("queue-no-ce", f"job queue {name} has no compute environment", arn,
                           "add one to its computeEnvironmentOrder", True))
    return out


def ce_state(f: Facts) -> list[Finding]:
    out = []
    for ce in f.ces:
        name, arn = ce_name(ce), ce_arn(ce)
        if ce.get("status") == "INVALID":
            out.append(Finding("ce-invalid", f"compute environment {name} is INVALID: "
                               f"{ce.get('statusReason') or 'no reason given'}", arn,
                               "fix what the reason names (role, subnet, instance type) and update the compute environment",
                               True, arn))
        if ce.get("state") == "DISABLED":
            out.append(Finding("ce-disabled", f"compute environment {name} is DISABLED: it places no jobs", arn,
                               f"aws batch update-compute-environment --compute-environment {name} --state ENABLED",
                               False, arn))
    return out


def managed(f: Facts):
    """(computeResources, name, ARN) of each managed compute environment of the queue."""
    for ce in f.ces:
        if is_managed(ce):
            yield ce_resources(ce), ce_name(ce), ce_arn(ce)


def fit(f: Facts) -> list[Finding]:
    """No instance type an EC2/Spot environment allows holds the job; or its maxvCpus is below the job's."""
    if f.shape is None:
        return []
    out, s = [], f.shape
    for r, name, arn in managed(f):
        if r.get("maxvCpus") is not None and s.vcpus > float(r["maxvCpus"]):
            out.append(Finding("max-vcpus-below-job", f"the job needs {s.vcpus:g} vCPU; compute environment {name} "
                               f"has maxvCpus {r['maxvCpus']}", arn, f"raise its maxvCpus to at least {s.vcpus:g}",
                               True, arn))
        if r.get("type") in limits.FARGATE_TYPES:
            continue
        allowed = [t for n, t in f.instance_types.items() if limits.allows(r.get("instanceTypes") or [], n)]
        if not allowed:
            continue  # nothing described for it: `unchecked` says so
        if not any(t.vcpus >= s.vcpus and t.memory >= s.memory and t.gpus >= s.gpus for t in allowed):
            big = max(allowed, key=lambda t: (t.gpus, t.vcpus, t.memory))
            out.append(Finding("no-instance-type-fits",
                               f"no instance type compute environment {name} allows ({', '.join(r.get('instanceTypes') or [])}) "
                               f"holds {s.text()}; the largest is {big.name} ({big.vcpus} vCPU, {big.memory} MiB, "
                               f"{big.gpus} GPU)", arn,
                               "add an instance type (or family) that holds the job to its instanceTypes, or ask for less",
                               True, arn))
    return out


def platform(f: Facts) -> list[Finding]:
    """Fargate against EC2: the job's platform, Fargate's vCPU/memory pairs, no GPUs on Fargate."""
    if f.shape is None:
        return []
    out, s = [], f.shape
    for r, name, arn in managed(f):
        fargate = r.get("type") in limits.FARGATE_TYPES
        if fargate != (s.platform == "FARGATE"):
            out.append(Finding("platform-mismatch", f"the job is defined for {s.platform}; compute environment {name} "
                               f"is {r.get('type')}", arn, "register the job definition with platformCapabilities "
                               f"{'FARGATE' if fargate else 'EC2'}, or use a queue of {s.platform} environments", True, arn))
            continue
        if not fargate:
            continue
        if s.gpus:
            out.append(Finding("fargate-gpu", f"the job asks for {s.gpus} GPU; Fargate ({name}) has none", arn,
                               "run it on an EC2 compute environment with GPU instance types", True, arn))
        if not limits.fargate_fits(s.vcpus, s.memory):
            out.append(Finding("fargate-shape", f"Fargate cannot run {s.text()} (compute environment {name})", arn,
                               limits.fargate_pairs_text(s.vcpus), True, arn))
    return out


def capacity(f: Facts) -> list[Finding]:
    """maxvCpus already used by RUNNING/STARTING jobs: the job waits until enough of them end."""
    if f.shape is None:
        return []
    out = []
    for ce in f.ces:
        r, arn = ce_resources(ce), ce_arn(ce)
        used, most = f.used_vcpus.get(arn), r.get("maxvCpus")
        if used is None or most is None or f.shape.vcpus > float(most):
            continue
        if used + f.shape.vcpus > float(most):
            out.append(Finding("max-vcpus-used", f"compute environment {ce_name(ce)} has {used:g} of its maxvCpus {most} "
                               f"in use by running jobs; the job needs {f.shape.vcpus:g} more", arn,
                               f"raise its maxvCpus to at least {used + f.shape.vcpus:g}, or wait for those jobs", False, arn))
    return out


def spot(f: Facts) -> list[Finding]:
    """A Spot environment whose allocation may not place the job (no price data is read: see docs/doctor.md)."""
    out = []
    for ce in f.ces:
        r, name, arn = ce_resources(ce), ce_name(ce), ce_arn(ce)
        if r.get("type") != "SPOT":
            continue
        strategy = r.get("allocationStrategy") or "BEST_FIT"
        if strategy == "BEST_FIT" and not r.get("spotIamFleetRole"):
            out.append(Finding("spot-fleet-role", f"Spot compute environment {name} uses BEST_FIT without a spotIamFleetRole",
                               arn, "set spotIamFleetRole, or use allocationStrategy SPOT_CAPACITY_OPTIMIZED", True, arn))
        bid = r.get("bidPercentage")
        if strategy == "BEST_FIT" and bid is not None and int(bid) < 100:
            out.append(Finding("spot-bid", f"Spot compute environment {name} bids {bid}% of On-Demand with BEST_FIT: "
                               "it waits while its one cheapest type costs more", arn,
                               "use allocationStrategy SPOT_PRICE_CAPACITY_OPTIMIZED, or bidPercentage 100", False, arn))
    return out
