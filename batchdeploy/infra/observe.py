"""What AWS has (chalice's RemoteState): the Describe*/List* calls `create` and `delete` plan from.
Read-only; each call's errors are translated at the edge. Every description carries `name`, `arn`
and `tags` (a dict) beside AWS's own fields."""

from __future__ import annotations

from batchdeploy.aws import error_code, translate
from batchdeploy.aws import ssm as aws_ssm
from batchdeploy.aws.batch import job_definition, list_jobs
from batchdeploy.aws.tags import TAG_PROJECT, as_dict, is_ours
from batchdeploy.infra.model import BATCH_API, LABEL, NAME_FIELD, Wanted, queue_ce_names


def _with(desc: dict, name_key: str, arn_key: str) -> dict:
    d = dict(desc)
    d["name"], d["arn"] = desc.get(name_key), desc.get(arn_key)
    d["tags"] = desc.get("tags") or {}
    return d


def describe_batch(batch, kind: str, names: list[str] | None = None) -> list[dict]:
    """The account's compute environments or job queues (all, or those `names` names), DELETED ones
    left out."""
    api = BATCH_API[kind]
    listed = f"{api.field}s"  # computeEnvironments: the request's filter and the answer's list
    with translate(f"describe {LABEL[kind]}s (batch:Describe{api.action}s)"):
        pages = batch.get_paginator(f"describe_{api.method}s").paginate(**({listed: names} if names else {}))
        out = [_with(d, NAME_FIELD[kind], f"{api.field}Arn") for page in pages for d in page[listed]]
    return [d for d in out if d.get("status") != "DELETED"]


def describe_one(batch, kind: str, name: str) -> dict | None:
    found = describe_batch(batch, kind, [name])
    return found[0] if found else None


def describe_job_definition(batch, ref: str) -> dict | None:
    """The newest ACTIVE revision of a name, or the revision `name:N` / ARN names when it is ACTIVE."""
    found = job_definition(batch, ref)
    if found is None or found.get("status", "ACTIVE") != "ACTIVE":
        return None
    return _with(found, "jobDefinitionName", "jobDefinitionArn")


def describe_bucket(s3, name: str) -> dict | None:
    import botocore.exceptions

    try:
        s3.head_bucket(Bucket=name)
    except botocore.exceptions.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return None
        if status in (301, 400, 403):
            return {"name": name, "arn": f"arn:aws:s3:::{name}", "tags": {}, "forbidden": True}
        with translate(f"look at S3 bucket {name} (s3:ListBucket)"):
            raise
    try:
        tags = as_dict(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != "NoSuchTagSet":
            with translate(f"read the tags of S3 bucket {name} (s3:GetBucketTagging)"):
                raise
        tags = {}
    return {"name": name, "arn": f"arn:aws:s3:::{name}", "tags": tags}


def bucket_has_objects(s3, name: str) -> bool:
    with translate(f"list S3 bucket {name} (s3:ListBucketVersions)"):
        page = s3.list_object_versions(Bucket=name, MaxKeys=1)
    return bool(page.get("Versions") or page.get("DeleteMarkers"))


def describe_repository(ecr, name: str) -> dict | None:
    import botocore.exceptions

    try:
        repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            return None
        with translate(f"describe ECR repository {name} (ecr:DescribeRepositories)"):
            raise
    with translate(f"read the tags of ECR repository {name} (ecr:ListTagsForResource)"):
        tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"]).get("tags")
    d = _with(repo, "repositoryName", "repositoryArn")
    d["tags"] = as_dict(tags)
    return d


def repository_has_images(ecr, name: str) -> bool:
    with translate(f"list the images of ECR repository {name} (ecr:ListImages)"):
        return bool(ecr.list_images(repositoryName=name, maxResults=1).get("imageIds"))


def observe_create(aws, wanted: list[Wanted]) -> dict:
    """(kind, name) -> what AWS describes, or None, for everything `wanted` names (and the compute
    environments its queues name)."""
    observed: dict = {}
    ce_names = sorted(
        {w.name for w in wanted if w.kind == "compute-environment"}
        | {n for w in wanted if w.kind == "job-queue" and w.request for n in queue_ce_names(w.request)}
    )
    queue_names = sorted({w.name for w in wanted if w.kind == "job-queue"})
    for kind, names in (("compute-environment", ce_names), ("job-queue", queue_names)):
        if names:
            found = {d["name"]: d for d in describe_batch(aws.client("batch"), kind, names)}
            for n in names:
                observed[(kind, n)] = found.get(n)
    for w in wanted:
        if w.kind == "job-definition":
            observed[(w.kind, w.name)] = describe_job_definition(aws.client("batch"), w.ref or w.name)
        elif w.kind == "bucket":
            observed[(w.kind, w.name)] = describe_bucket(aws.client("s3"), w.name)
        elif w.kind == "ecr-repository":
            observed[(w.kind, w.name)] = describe_repository(aws.client("ecr"), w.name)
    return observed


def observe_delete(aws, project: str, prefix: str, buckets: list[str], repos: list[str]) -> dict:
    """Everything `plan_delete` weighs: the account's compute environments and queues (ours with their
    unfinished jobs counted), the project's ACTIVE job definitions, and the candidate buckets and
    repositories by name (ours with whether they hold anything)."""
    batch = aws.client("batch")
    found: dict = {
        "compute-environment": describe_batch(batch, "compute-environment"),
        "job-queue": describe_batch(batch, "job-queue"),
    }
    for q in found["job-queue"]:
        if is_ours(q["tags"], project, prefix):
            q["active_jobs"] = len(list_jobs(batch, q["name"]))
    active = _active_job_definitions(batch)
    found["job-definition"] = [d for d in active if d["tags"].get(TAG_PROJECT) == project]
    found["images"] = [{"arn": d["arn"], "images": _images(d)} for d in active]
    found["ssm-parameter"] = _parameters(aws, project)
    found["bucket"] = []
    for name in dict.fromkeys(buckets):
        d = describe_bucket(aws.client("s3"), name)
        if d and not d.get("forbidden"):
            if is_ours(d["tags"], project, prefix):
                d["not_empty"] = bucket_has_objects(aws.client("s3"), name)
            found["bucket"].append(d)
    found["ecr-repository"] = []
    for name in dict.fromkeys(repos):
        d = describe_repository(aws.client("ecr"), name)
        if d:
            if d["tags"].get(TAG_PROJECT) == project:  # the project's: shared by its prefixes
                d["not_empty"] = repository_has_images(aws.client("ecr"), name)
            found["ecr-repository"].append(d)
    return found


def _parameters(aws, project: str) -> list[dict]:
    """The SSM parameters under /batchdeploy/PROJECT/ (SECRETS' values), with their tags; no values."""
    ssm = aws.client("ssm")
    found = aws_ssm.under(ssm, f"{aws_ssm.PATH_ROOT}/{project}")
    return [{"name": p["Name"], "arn": p.get("ARN"), "tags": aws_ssm.tags_of(ssm, p["Name"])} for p in found]


def _images(doc) -> list[str]:
    """Every `image` a job definition names (container, node ranges, ECS and EKS containers)."""
    if isinstance(doc, dict):
        own = [doc["image"]] if isinstance(doc.get("image"), str) else []
        return own + [i for k, v in doc.items() if k != "tags" for i in _images(v)]
    if isinstance(doc, list):
        return [i for v in doc for i in _images(v)]
    return []


def _active_job_definitions(batch) -> list[dict]:
    found = []
    with translate("describe job definitions (batch:DescribeJobDefinitions)"):
        for page in batch.get_paginator("describe_job_definitions").paginate(status="ACTIVE"):
            found += [_with(d, "jobDefinitionName", "jobDefinitionArn") for d in page["jobDefinitions"]]
    return [d for d in found if d.get("status") == "ACTIVE"]
