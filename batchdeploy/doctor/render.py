"""A diagnosis as plain lines (no rich: it is read in logs and CI as often as in a terminal) or as data."""

from __future__ import annotations

from batchdeploy.doctor.diagnose import Diagnosis
from batchdeploy.doctor.examine import checked


def headline(d: Diagnosis) -> str:
    f = d.facts
    queue = (f.queue or {}).get("jobQueueName", "?")
    subject = f"job {f.job.get('jobName')} ({f.job.get('jobId')}, {f.job.get('status')})" if f.job else "queue"
    n = len(d.findings)
    if not n:
        return f"doctor: {subject} on queue {queue}: no problem found"
    verdict = "it can never run as things stand" if d.unschedulable else "it may still run"
    return f"doctor: {subject} on queue {queue}: {n} problem{'s' if n != 1 else ''}; {verdict}"


def lines(d: Diagnosis) -> list[str]:
    out = [headline(d)]
    for i, finding in enumerate(d.findings, 1):
        mark = " [never resolves]" if finding in d.blocking else ""
        out += [f"{i}.{mark} {finding.what}", f"   where: {finding.where}", f"   fix:   {finding.fix}"]
    out.append("checked: " + "; ".join(checked(d)))
    out += [f"not checked: {why}" for why in d.facts.unchecked]
    return out


def as_json(d: Diagnosis) -> dict:
    f = d.facts
    return {
        "job_id": (f.job or {}).get("jobId"),
        "job_status": (f.job or {}).get("status"),
        "queue": (f.queue or {}).get("jobQueueArn"),
        "shape": None if f.shape is None else {"vcpus": f.shape.vcpus, "memory": f.shape.memory,
                                               "gpus": f.shape.gpus, "platform": f.shape.platform},
        "healthy": not d.findings,
        "unschedulable": d.unschedulable,
        "findings": [dict(x.as_json(), never_resolves=x in d.blocking) for x in d.findings],
        "checked": checked(d),
        "unchecked": list(f.unchecked),
    }
