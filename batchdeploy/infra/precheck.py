"""Before `create`'s first write: what a compute environment file names, checked by reading it.

AWS accepts CreateComputeEnvironment with a subnet that does not exist, a security group of another
VPC or a role that is missing, and only then reports the compute environment INVALID; by then the
bucket and the repositories used to be made. Here, read-only: the subnets and security groups exist
and sit in one VPC (ec2:DescribeSubnets, ec2:DescribeSecurityGroups); the service role, the instance
profile and the Spot fleet role exist (iam:GetRole, iam:GetInstanceProfile) and belong to this
account (sts:GetCallerIdentity), and the caller may pass each of them (iam:SimulatePrincipalPolicy for
iam:PassRole, which CreateComputeEnvironment needs). A read the caller may not make, or an answer IAM
cannot give (SimulatePrincipalPolicy for a federated caller, an emulator that lacks it), is a warning,
not a problem: AWS still checks at creation.

`blank_problems` is the pure part, run with the file checks: an empty subnet, security group or role
(an empty SUBNET_ID in .aws_env renders `["${SUBNET_ID}"]` as `[""]`).
"""

from __future__ import annotations

import re

from batchdeploy import config
from batchdeploy.aws import error_code, translate

DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess")
# (json path, what it names): AWS takes a name or an ARN for each.
IAM_FIELDS = (
    ("serviceRole", "role"),
    ("computeResources.instanceRole", "instance-profile"),
    ("computeResources.spotIamFleetRole", "role"),
)
NETWORK_FIELDS = ("computeResources.subnets", "computeResources.securityGroupIds")
IAM_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):(?P<kind>role|instance-profile)/(?:.*/)?(?P<name>[^/]+)")


def _at(doc, path: str):
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def _named(raw, path: str, index: int | None = None) -> str:
    """` (${VAR} is empty)` when the file's raw value at `path` is a placeholder, else ``."""
    value = _at(raw, path)
    if index is not None:
        value = value[index] if isinstance(value, list) and index < len(value) else None
    found = config.PLACEHOLDER.findall(value) if isinstance(value, str) else []
    if not found:
        return ""
    field = path.rsplit(".", 1)[-1]
    default = f", or leave {field} out of the file for the default VPC's" if path in NETWORK_FIELDS else ""
    return f" (${{{found[0]}}} is empty: set {found[0]} in .aws_env{default})"


def blank_problems(doc, raw=None) -> list[str]:
    """Empty subnets, security groups and roles of a compute environment request (pure)."""
    if not isinstance(doc, dict):
        return []
    problems = []
    for path in NETWORK_FIELDS:
        values = _at(doc, path)
        for i, value in enumerate(values if isinstance(values, list) else []):
            if isinstance(value, str) and not value.strip():
                problems.append(f"{path}[{i}]: empty{_named(raw, path, i)}")
    for path, _ in IAM_FIELDS:
        value = _at(doc, path)
        if isinstance(value, str) and not value.strip():
            problems.append(f"{path}: empty{_named(raw, path)}")
    return problems


class Reads:
    """The read-only calls, each refused read kept as a warning instead of stopping the run."""

    def __init__(self, aws):
        self.aws = aws
        self.warnings: list[str] = []

    def call(self, service: str, action: str, what: str, fn, **kwargs):
        """fn(**kwargs)'s answer; None when refused (a warning) or when IAM has no such entity."""
        import botocore.exceptions

        try:
            return fn(**kwargs)
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in DENIED:
                self.warnings.append(
                    f"cannot check {what} ({service}:{action} is not allowed): AWS checks it at creation"
                )
                return None
            if code == "NoSuchEntity":
                return {}
            with translate(f"check {what} ({service}:{action})"):
                raise

    def identity(self) -> dict:
        if not hasattr(self, "_identity"):
            sts = self.aws.client("sts")
            self._identity = self.call("sts", "GetCallerIdentity", "the account of the roles", sts.get_caller_identity) or {}
        return self._identity

    def account(self) -> str | None:
        return self.identity().get("Account")

    def optional(self, service: str, action: str, what: str, fn, **kwargs):
        """fn(**kwargs)'s answer, or None with a warning on any failure: for checks AWS repeats anyway."""
        import botocore.exceptions
        from botocore.parsers import ResponseParserError

        try:
            return fn(**kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, ResponseParserError) as exc:
            cause = error_code(exc) or type(exc).__name__
            line = f"cannot check {what} ({service}:{action} answered {cause}): AWS checks it at creation"
            if not any(f"({service}:{action} answered" in w for w in self.warnings):  # once per action
                self.warnings.append(line)
            return None


def principal_arn(caller: str | None) -> str | None:
    """The IAM ARN SimulatePrincipalPolicy takes for the caller: a user's or a role's as it is; an
    assumed role's session ARN (arn:aws:sts::A:assumed-role/ROLE/SESSION) as its role; else None."""
    m = re.fullmatch(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", caller or "")
    if m:
        return f"arn:{m[1]}:iam::{m[2]}:role/{m[3]}"
    # A user, as IAM names it (moto's GetCallerIdentity says arn:aws:sts::A:user/N for the same user).
    m = re.fullmatch(r"arn:(aws[a-z-]*):(?:iam|sts)::(\d{12}):(user|role)/(.+)", caller or "")
    return f"arn:{m[1]}:iam::{m[2]}:{m[3]}/{m[4]}" if m else None


def _can_pass(reads: Reads, passed: list[tuple[str, str]]) -> list[str]:
    """Problems for each (path, role ARN) the caller may not pass (iam:PassRole)."""
    principal = principal_arn(reads.identity().get("Arn"))
    if not passed or principal is None:
        return []
    # One try: the check only informs (AWS repeats it at creation), and an IAM that cannot simulate
    # (an emulator) answers 500, which the standard retry policy would wait on five times.
    iam, problems = reads.aws.client("iam", retries={"total_max_attempts": 1}), []
    for path, role in passed:
        answer = reads.optional("iam", "SimulatePrincipalPolicy", "that the roles can be passed",
                                iam.simulate_principal_policy, PolicySourceArn=principal,
                                ActionNames=["iam:PassRole"], ResourceArns=[role])
        for result in (answer or {}).get("EvaluationResults") or []:
            if result.get("EvalDecision") != "allowed":
                problems.append(f"{path}: the caller ({principal}) may not pass {role} (iam:PassRole is "
                                f"{result.get('EvalDecision')}); allow iam:PassRole on it")
    return problems


def _network(reads: Reads, res: dict) -> list[str]:
    ec2 = reads.aws.client("ec2")
    problems, vpcs = [], {}
    for path, action, answer_key, id_key, flt in (
        ("subnets", "DescribeSubnets", "Subnets", "SubnetId", "subnet-id"),
        ("securityGroupIds", "DescribeSecurityGroups", "SecurityGroups", "GroupId", "group-id"),
    ):
        ids = [v for v in res.get(path) or [] if isinstance(v, str) and v.strip()]
        if not ids:
            continue
        method = getattr(ec2, "describe_subnets" if path == "subnets" else "describe_security_groups")
        answer = reads.call("ec2", action, f"computeResources.{path}", method, Filters=[{"Name": flt, "Values": ids}])
        if answer is None:
            continue
        found = {d[id_key]: d.get("VpcId") for d in answer.get(answer_key) or []}
        for value in ids:
            if value not in found:
                problems.append(f"computeResources.{path}: {value} does not exist in this account and region")
            else:
                vpcs.setdefault(found[value], []).append(value)
    if len(vpcs) > 1:
        where = "; ".join(f"{vpc}: {', '.join(ids)}" for vpc, ids in sorted(vpcs.items(), key=str))
        problems.append(f"computeResources: the subnets and security groups must sit in one VPC ({where})")
    return problems


def _iam(reads: Reads, doc: dict) -> list[str]:
    refs = [(path, kind, _at(doc, path)) for path, kind in IAM_FIELDS]
    refs = [(p, k, v) for p, k, v in refs if isinstance(v, str) and v.strip()]
    if not refs:
        return []
    iam, problems, passed = reads.aws.client("iam"), [], []
    account = reads.account()
    for path, kind, value in refs:
        name = value
        if value.startswith("arn:"):
            m = IAM_ARN.fullmatch(value)
            if not m or m["kind"] != kind:
                problems.append(f"{path}: {value} is not the ARN of an IAM {kind.replace('-', ' ')}")
                continue
            if account and m["account"] != account:
                problems.append(
                    f"{path}: {value} is in account {m['account']}, not this one ({account}); "
                    "a compute environment passes roles of its own account only"
                )
                continue
            name = m["name"]
        name = name.rsplit("/", 1)[-1]
        if kind == "role":
            found = reads.call("iam", "GetRole", f"{path} {value}", iam.get_role, RoleName=name)
            arns = [(found or {}).get("Role", {}).get("Arn")]
        else:
            found = reads.call(
                "iam", "GetInstanceProfile", f"{path} {value}", iam.get_instance_profile, InstanceProfileName=name
            )
            arns = [r.get("Arn") for r in (found or {}).get("InstanceProfile", {}).get("Roles") or []]
        if found == {}:
            what = "role" if kind == "role" else "instance profile"
            problems.append(f"{path}: the IAM {what} {value} does not exist")
        passed += [(path, arn) for arn in arns if arn]
    return problems + _can_pass(reads, passed)


def check_compute_environment(aws, doc: dict, source: str) -> tuple[list[str], list[str]]:
    """(problems, warnings) of what a compute environment request names, found by reading."""
    reads = Reads(aws)
    res = doc.get("computeResources") if isinstance(doc.get("computeResources"), dict) else {}
    problems = _network(reads, res) + _iam(reads, doc)
    return [f"{source}: {p}" for p in problems], reads.warnings
