"""`create`: the network of a compute environment whose file leaves it out, from the default VPC.

A compute environment file without `computeResources.subnets` or `securityGroupIds` (what `init`
writes) gets the region's default VPC's default subnets (one per Availability Zone) and its `default`
security group, and one line says which. A file that names them is used as it is; a blank one stays a
problem (precheck.blank_problems). Reads only: ec2:DescribeVpcs, DescribeSubnets, DescribeSecurityGroups.
"""

from __future__ import annotations

from batchdeploy.aws import translate

FIELDS = ("subnets", "securityGroupIds")


def missing_network(doc) -> list[str]:
    """The network fields a compute environment request leaves out (pure)."""
    res = doc.get("computeResources") if isinstance(doc, dict) else None
    if not isinstance(res, dict):
        return []
    return [f for f in FIELDS if f not in res]


def default_network(ec2) -> tuple[str, list[str], str] | None:
    """(VPC id, default subnets, default security group) of the default VPC; None without one."""
    with translate("find the default VPC (needs ec2:DescribeVpcs)"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}]).get("Vpcs") or []
    if not vpcs:
        return None
    vpc = vpcs[0]["VpcId"]
    by_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    with translate("list the default VPC's subnets (needs ec2:DescribeSubnets)"):
        subnets = ec2.describe_subnets(Filters=[*by_vpc, {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    with translate("find the default VPC's security group (needs ec2:DescribeSecurityGroups)"):
        groups = ec2.describe_security_groups(Filters=[*by_vpc, {"Name": "group-name", "Values": ["default"]}])
    groups = groups.get("SecurityGroups") or []
    if not subnets or not groups:
        return None
    return vpc, sorted(s["SubnetId"] for s in subnets), groups[0]["GroupId"]


def fill_default_network(ctx, docs: dict, source: str, problems: list) -> None:
    """Fill the compute environment request's left-out network from the default VPC (in place)."""
    doc = docs.get("compute-environment")
    missing = missing_network(doc)
    if not missing:
        return
    found = default_network(ctx.aws.client("ec2"))
    if found is None:
        problems.append(
            f"{source}: computeResources names no {' or '.join(missing)} and this region has no default VPC "
            "with default subnets: add \"subnets\" and \"securityGroupIds\" to the file"
        )
        return
    vpc, subnets, group = found
    res = doc["computeResources"]
    res.setdefault("subnets", subnets)
    res.setdefault("securityGroupIds", [group])
    ctx.out.note(
        f"network from the default VPC {vpc} ({source} names none): subnets {', '.join(res['subnets'])}; "
        f"security group {', '.join(res['securityGroupIds'])}"
    )
