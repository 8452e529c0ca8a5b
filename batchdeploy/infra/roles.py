"""`create` / `delete`: the IAM roles a Batch setup needs, when the compute environment file names them.

The roles are named from the prefix, PREFIX-SUFFIX; `create` makes them (tagged with the project and
prefix, as everything else it makes) when the compute environment's `serviceRole` or `instanceRole` names
PREFIX-batch-service or PREFIX-ecs-instance, which the files `init` writes do. A file naming other roles
(yours, or the console's) is used as it is and nothing here runs.

    PREFIX-batch-service  trusted by batch.amazonaws.com; AWS's AWSBatchServiceRole policy. (We name a
                          service role rather than rely on the service-linked role AWSServiceRoleForBatch,
                          so the same files work on the local stack, whose moto requires serviceRole.)
    PREFIX-ecs-instance   trusted by ec2.amazonaws.com; AmazonEC2ContainerServiceforEC2Role (ECS agent,
                          ECR pulls, logs); and the instance profile of the same name holding it.
    PREFIX-job            trusted by ecs-tasks.amazonaws.com; the job's own rights, only these: list the
                          project's bucket, get, put and delete its objects.
    PREFIX-execution      trusted by ecs-tasks.amazonaws.com; AmazonECSTaskExecutionRolePolicy (for a
                          job definition's executionRoleArn: Fargate, or secrets from SSM), and
                          ssm:GetParameters on the project's SECRETS parameters, /batchdeploy/PROJECT/*.

An existing role of that name is found again (a second `create` changes nothing but re-attaches the
policies, which IAM treats as no change); one without our tags is used as it is, never changed.
`delete` removes ours, after the compute environment that used them. IAM errors say the permission.
"""

from __future__ import annotations

import json

from batchdeploy.aws import error_code, translate
from batchdeploy.aws.tags import as_dict, is_ours, our_tags, whose

POLICY = "arn:aws:iam::aws:policy/service-role/"
ROLES = {  # suffix -> (trusted service, AWS managed policies)
    "batch-service": ("batch.amazonaws.com", [POLICY + "AWSBatchServiceRole"]),
    "ecs-instance": ("ec2.amazonaws.com", [POLICY + "AmazonEC2ContainerServiceforEC2Role"]),
    "job": ("ecs-tasks.amazonaws.com", []),
    "execution": ("ecs-tasks.amazonaws.com", [POLICY + "AmazonECSTaskExecutionRolePolicy"]),
}
PROFILE = "ecs-instance"  # the one that is also an instance profile
BUCKET_POLICY = "bucket-access"
SECRETS_POLICY = "secrets-read"
# IAM answers a fresh role's use with "cannot be assumed" for some seconds; AWS only (an emulator has no lag).
SETTLE_S = 15


def trust_policy(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def bucket_policy(bucket: str) -> str:
    """The job role's rights (pure): the project's bucket, nothing else."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": f"arn:aws:s3:::{bucket}/*"},
        ],
    })


def secrets_policy(project: str) -> str:
    """The execution role's rights beyond AWS's policy (pure): read the project's SECRETS parameters.
    (kms:Decrypt is needed only for a customer-managed key; SSM's default key needs none.)"""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ssm:GetParameters"],
                       "Resource": f"arn:aws:ssm:*:*:parameter/batchdeploy/{project}/*"}],
    })


def names(prefix: str) -> dict[str, str]:
    return {suffix: f"{prefix}-{suffix}" for suffix in ROLES}


def named_by(ce_request, prefix: str) -> bool:
    """Whether the compute environment request names this prefix's service role or instance profile."""
    if not isinstance(ce_request, dict):
        return False
    res = ce_request.get("computeResources") if isinstance(ce_request.get("computeResources"), dict) else {}
    ours = names(prefix)
    refs = [ce_request.get("serviceRole"), res.get("instanceRole")]
    want = {ours["batch-service"], ours[PROFILE]}
    return any(isinstance(r, str) and r.rsplit("/", 1)[-1] in want for r in refs)


def _tags(project: str, prefix: str) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in our_tags(project, prefix).items()]


def _get_role(iam, name: str) -> dict | None:
    import botocore.exceptions

    try:
        return iam.get_role(RoleName=name)["Role"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        with translate(f"read IAM role {name} (needs iam:GetRole)"):
            raise


def _call(what: str, fn, done=("EntityAlreadyExists", "NoSuchEntity"), **kwargs) -> None:
    """One IAM write; an answer saying it is already done (a lost answer, retried) counts as done."""
    import botocore.exceptions

    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in done:
            return
        with translate(what):
            raise


def _make_role(iam, suffix: str, name: str, project: str, prefix: str, bucket: str) -> None:
    service, managed = ROLES[suffix]
    _call(f"create IAM role {name} (needs iam:CreateRole)", iam.create_role, RoleName=name,
          AssumeRolePolicyDocument=trust_policy(service), Tags=_tags(project, prefix),
          Description=f"batchdeploy {prefix}: {suffix}")
    _fill_role(iam, suffix, name, project, prefix, bucket)


def _fill_role(iam, suffix: str, name: str, project: str, prefix: str, bucket: str) -> None:
    """The policies and instance profile of one of our roles (each call idempotent)."""
    for arn in ROLES[suffix][1]:
        _call(f"attach {arn} to IAM role {name} (needs iam:AttachRolePolicy)", iam.attach_role_policy,
              RoleName=name, PolicyArn=arn)
    if suffix == "job":
        _call(f"put the bucket policy on IAM role {name} (needs iam:PutRolePolicy)", iam.put_role_policy,
              RoleName=name, PolicyName=BUCKET_POLICY, PolicyDocument=bucket_policy(bucket))
    if suffix == "execution":
        _call(f"put the SSM read policy on IAM role {name} (needs iam:PutRolePolicy)", iam.put_role_policy,
              RoleName=name, PolicyName=SECRETS_POLICY, PolicyDocument=secrets_policy(project))
    if suffix == PROFILE:
        _call(f"create instance profile {name} (needs iam:CreateInstanceProfile)", iam.create_instance_profile,
              InstanceProfileName=name, Tags=_tags(project, prefix))
        with translate(f"read instance profile {name} (needs iam:GetInstanceProfile)"):
            held = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"].get("Roles") or []
        if name not in [r.get("RoleName") for r in held]:
            _call(f"add IAM role {name} to its instance profile (needs iam:AddRoleToInstanceProfile)",
                  iam.add_role_to_instance_profile, InstanceProfileName=name, RoleName=name)


def _incomplete(iam, suffix: str, name: str, bucket: str) -> bool:
    """Whether one of our roles lacks a policy or its instance profile (an interrupted create); reads only."""
    import botocore.exceptions

    with translate(f"read IAM role {name}'s policies (needs iam:ListAttachedRolePolicies, iam:ListRolePolicies)"):
        attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies") or []}
        inline = iam.list_role_policies(RoleName=name).get("PolicyNames") or []
    needs = {"job": BUCKET_POLICY, "execution": SECRETS_POLICY}.get(suffix)
    if not set(ROLES[suffix][1]) <= attached or (needs and needs not in inline):
        return True
    if suffix != PROFILE:
        return False
    try:
        held = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"].get("Roles") or []
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return True
        with translate(f"read instance profile {name} (needs iam:GetInstanceProfile)"):
            raise
    return name not in [r.get("RoleName") for r in held]


def ensure_roles(ctx, ce_request, project: str, prefix: str, bucket: str, dry_run: bool) -> list[str]:
    """Make this prefix's roles when the compute environment names them, and complete ours that an
    interrupted create left without a policy or profile; the names it made or completed (or would, with
    `dry_run`). One not ours is used as it is."""
    if not named_by(ce_request, prefix):
        return []
    iam, made = ctx.aws.client("iam"), []
    for suffix, name in names(prefix).items():
        have = _get_role(iam, name)
        profile = " and its instance profile" if suffix == PROFILE else ""
        if have is not None and not is_ours(as_dict(have.get("Tags")), project, prefix):
            if dry_run:
                ctx.out.note(f"  use      IAM role {name} ({whose(as_dict(have.get('Tags')))}: used as it is)")
            continue
        if have is not None and not _incomplete(iam, suffix, name, bucket):
            continue
        made.append(name)
        op = ("create  " if dry_run else "created ") if have is None else ("complete" if dry_run else "completed")
        if not dry_run:
            (_make_role if have is None else _fill_role)(iam, suffix, name, project, prefix, bucket)
        ctx.out.note(f"  {op} IAM role {name}{profile}")
    if made and not dry_run and not ctx.cfg.get("AWS_ENDPOINT_URL"):
        ctx.out.note(f"waiting {SETTLE_S} s for IAM to make the new roles usable")
        ctx.sleep(SETTLE_S)
    return made


def _empty_role(iam, name: str) -> None:
    with translate(f"empty IAM role {name} (needs iam:ListAttachedRolePolicies, iam:DetachRolePolicy, "
                   "iam:ListRolePolicies, iam:DeleteRolePolicy, iam:ListInstanceProfilesForRole)"):
        for p in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies") or []:
            iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
        for policy in iam.list_role_policies(RoleName=name).get("PolicyNames") or []:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        profiles = iam.list_instance_profiles_for_role(RoleName=name).get("InstanceProfiles") or []
    for pname in [p["InstanceProfileName"] for p in profiles]:
        with translate(f"take IAM role {name} out of instance profile {pname} (needs iam:RemoveRoleFromInstanceProfile)"):
            iam.remove_role_from_instance_profile(InstanceProfileName=pname, RoleName=name)
    if name.endswith(f"-{PROFILE}"):  # ours, also when an interrupted delete left it without its role
        _call(f"delete instance profile {name} (needs iam:DeleteInstanceProfile)",
              iam.delete_instance_profile, InstanceProfileName=name)


def delete_roles(ctx, project: str, prefix: str, dry_run: bool) -> list[str]:
    """Remove this prefix's roles (ours only) and the instance profile; the names removed (or that would
    be, with `dry_run`)."""
    iam, gone = ctx.aws.client("iam"), []
    for name in names(prefix).values():
        have = _get_role(iam, name)
        if have is None:
            continue
        if not is_ours(as_dict(have.get("Tags")), project, prefix):
            ctx.out.warn(f"kept IAM role {name}: {whose(as_dict(have.get('Tags')))}: left alone")
            continue
        if dry_run:
            ctx.out.note(f"  delete   IAM role {name}")
            gone.append(name)
            continue
        _empty_role(iam, name)
        _call(f"delete IAM role {name} (needs iam:DeleteRole)", iam.delete_role, RoleName=name)
        ctx.out.note(f"  deleted  IAM role {name}")
        gone.append(name)
    return gone
