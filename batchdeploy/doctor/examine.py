"""One diagnosis, from a job (or a job's record in hand) or from a queue and a request's shape:
collect the facts, run the checks. `full=False` is the preflight's short look (no capacity, network,
IAM or image reads)."""

from __future__ import annotations

from batchdeploy.aws.ecr import ECR_HOST
from batchdeploy.doctor import collect
from batchdeploy.doctor.diagnose import Diagnosis, diagnose
from batchdeploy.doctor.model import Facts, Shape


def examine(aws, *, job_id: str | None = None, job: dict | None = None, queue: str | None = None,
            shape: Shape | None = None, full: bool = True) -> Diagnosis:
    batch = aws.client("batch")
    facts = Facts(region=aws.region or "us-east-1")
    if job is None and job_id:
        job, facts.job_definition = collect.job_and_definition(batch, job_id)
    elif job is not None:
        facts.job_definition = collect.definition_of(batch, job.get("jobDefinition"))
    if job is not None:
        facts.job = job
        facts.shape = collect.job_shape(job, facts.job_definition)
        queue = job.get("jobQueue") or queue
        facts.image = (job.get("container") or {}).get("image") or \
            ((facts.job_definition or {}).get("containerProperties") or {}).get("image")
    else:
        facts.shape = shape
    facts.queue, facts.ces = collect.queue_and_ces(batch, queue or "")
    if facts.shape is not None:
        collect.instance_types(aws.client("ec2"), facts)
    if full:
        if facts.shape is not None:
            collect.used_vcpus(batch, facts)
        collect.network(aws.client("ec2"), facts)
        collect.iam(aws.client("iam"), facts)
        if facts.image:
            host = ECR_HOST.fullmatch(facts.image.partition("/")[0])
            if host:
                collect.image(aws.client("ecr", region_name=host["region"]), facts)
    return diagnose(facts)


def checked(d: Diagnosis) -> list[str]:
    """What was looked at, for "no problem found (checked: ...)"."""
    f = d.facts
    out = [f"job queue {(f.queue or {}).get('jobQueueName', '?')}", f"{len(f.ces)} compute environment(s)"]
    if f.job:
        out.insert(0, f"job {f.job.get('jobId')} ({f.job.get('status')}, statusReason "
                      f"{f.job.get('statusReason') or 'none'})")
    if f.shape:
        out.append(f"the job's {f.shape.text()} on {f.shape.platform}")
    if f.instance_types:
        out.append(f"{len(f.instance_types)} instance type(s)")
    if f.used_vcpus:
        out.append("vCPUs in use")
    if f.network.subnets:
        out.append(f"{len(f.network.subnets)} subnet(s) and their routes")
    if f.profiles or f.roles:
        out.append(f"{len(f.profiles) + len(f.roles)} role(s)/instance profile(s)")
    if f.image_found is not None:
        out.append(f"image {f.image} in ECR")
    return out
