"""SSM Parameter Store, as batchdeploy uses it: the SecureString parameters that hold the values of the
keys `SECRETS` names, so a job gets them by reference (AWS Batch `secrets`, `valueFrom`) and
DescribeJobs shows an ARN, never the value.

The values pass through here and nowhere else: compared in memory with what SSM holds, sent only in
PutParameter's body, never returned to a caller or put into a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from batchdeploy.aws.errors import translate

PATH_ROOT = "/batchdeploy"
GET_LIMIT = 10  # GetParameters takes at most 10 names per call
VALUE_LIMIT = 4096  # a Standard tier parameter's value, bytes


def parameter_name(project: str, env: str, key: str) -> str:
    """/batchdeploy/PROJECT/ENV/KEY: one folder per project and deployment environment."""
    return f"{PATH_ROOT}/{project}/{env}/{key}"


def project_path(project: str, env: str) -> str:
    return f"{PATH_ROOT}/{project}/{env}"


def arn_of(partition: str, region: str, account: str, name: str) -> str:
    """A parameter's ARN as AWS writes it (a name starting with / is not given a second /)."""
    return f"arn:{partition}:ssm:{region}:{account}:parameter{name if name.startswith('/') else '/' + name}"


@dataclass(frozen=True)
class Stored:
    """What SSM holds for one name: its ARN and whether it equals the wanted value (never the value)."""

    arn: str
    same: bool


def compare(ssm, wanted: dict[str, str]) -> dict[str, Stored]:
    """{parameter name: Stored} for the names SSM has (ssm:GetParameters, kms:Decrypt); absent names
    are left out. `wanted` maps parameter names to values; the values are compared here, in memory."""
    names = list(wanted)
    found: dict[str, Stored] = {}
    for i in range(0, len(names), GET_LIMIT):
        with translate("read the SECRETS parameters (ssm:GetParameters, kms:Decrypt)"):
            answer = ssm.get_parameters(Names=names[i : i + GET_LIMIT], WithDecryption=True)
        for p in answer.get("Parameters") or []:
            found[p["Name"]] = Stored(arn=p["ARN"], same=p.get("Type") == "SecureString" and p.get("Value") == wanted[p["Name"]])
    return found


def put(ssm, name: str, value: str, tags: dict[str, str], *, exists: bool) -> None:
    """Create (tagged) or overwrite one SecureString parameter (ssm:PutParameter, ssm:AddTagsToResource).
    AWS refuses Tags together with Overwrite, so an overwrite tags in a second call."""
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    doing = f"store {name} (ssm:PutParameter)"
    with translate(doing):
        if exists:
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
        else:
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Tags=tag_list)
    if exists:
        with translate(f"tag {name} (ssm:AddTagsToResource)"):
            ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=tag_list)


def under(ssm, path: str) -> list[dict]:
    """Every parameter below `path` (recursively), as DescribeParameters' metadata: no values."""
    out: list[dict] = []
    with translate(f"list the parameters under {path} (ssm:DescribeParameters)"):
        for page in ssm.get_paginator("describe_parameters").paginate(
            ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [path]}]
        ):
            out += page.get("Parameters") or []
    return out


def tags_of(ssm, name: str) -> dict[str, str]:
    with translate(f"read the tags of {name} (ssm:ListTagsForResource)"):
        items = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList") or []
    return {t["Key"]: t["Value"] for t in items}


def delete(ssm, names: list[str]) -> None:
    for i in range(0, len(names), GET_LIMIT):
        with translate("delete the SECRETS parameters (ssm:DeleteParameters)"):
            ssm.delete_parameters(Names=names[i : i + GET_LIMIT])
