"""The checks of what an instance or task needs to start the job: a route out (or endpoints) to pull
the image, the instance profile and roles, the image itself in ECR. Pure functions over `Facts`."""

from __future__ import annotations

from batchdeploy.doctor import limits
from batchdeploy.doctor.checks import ce_arn, ce_name, ce_resources, is_managed
from batchdeploy.doctor.model import Facts, Finding


def _route_table(f: Facts, subnet: dict) -> dict | None:
    tables = f.network.route_tables.get(subnet.get("VpcId", ""), [])
    for t in tables:
        if any(a.get("SubnetId") == subnet["SubnetId"] for a in t.get("Associations") or []):
            return t
    return next((t for t in tables if any(a.get("Main") for a in t.get("Associations") or [])), None)


def _default_route(table: dict | None) -> dict | None:
    for route in (table or {}).get("Routes") or []:
        if route.get("DestinationCidrBlock") == "0.0.0.0/0" and route.get("State", "active") == "active":
            return route
    return None


def _endpoints_missing(f: Facts, vpc: str) -> list[str]:
    have = {e.get("ServiceName") for e in f.network.endpoints.get(vpc, [])
            if e.get("State", "available").lower() == "available"}
    return [s for s in limits.PULL_ENDPOINTS if f"com.amazonaws.{f.region}.{s}" not in have]


def _public_ip(f: Facts, ce: dict, subnet: dict) -> bool:
    if ce_resources(ce).get("type") in limits.FARGATE_TYPES:
        net = ((f.job_definition or {}).get("containerProperties") or {}).get("networkConfiguration") or {}
        return net.get("assignPublicIp") == "ENABLED"
    return bool(subnet.get("MapPublicIpOnLaunch"))


def network(f: Facts) -> list[Finding]:
    """Every subnet of a managed environment reaches the image: a NAT route, an internet gateway with a
    public IP, or the ECR and S3 endpoints in its VPC."""
    out = []
    for ce in f.ces:
        if not is_managed(ce):
            continue
        for sid in ce_resources(ce).get("subnets") or []:
            subnet = f.network.subnets.get(sid)
            if subnet is None:
                out.append(Finding("subnet-missing", f"subnet {sid} of compute environment {ce_name(ce)} does not exist",
                                   ce_arn(ce), "update the compute environment's subnets", True, ce_arn(ce)))
                continue
            problem = _no_way_out(f, ce, subnet)
            if problem:
                out.append(Finding("subnet-no-route", problem[0], sid, problem[1], False, ce_arn(ce)))
    return out


def _no_way_out(f: Facts, ce: dict, subnet: dict) -> tuple[str, str] | None:
    sid, route = subnet["SubnetId"], _default_route(_route_table(f, subnet))
    if route and (route.get("NatGatewayId") or route.get("TransitGatewayId") or route.get("NetworkInterfaceId")
                  or route.get("InstanceId")):
        return None
    missing = _endpoints_missing(f, subnet.get("VpcId", ""))
    if not missing:
        return None
    gateway = (route or {}).get("GatewayId", "")
    if gateway.startswith("igw-"):
        if _public_ip(f, ce, subnet):
            return None
        fargate = ce_resources(ce).get("type") in limits.FARGATE_TYPES
        fix = ("set networkConfiguration.assignPublicIp ENABLED in the job definition" if fargate else
               f"aws ec2 modify-subnet-attribute --subnet-id {sid} --map-public-ip-on-launch")
        return (f"subnet {sid} routes to internet gateway {gateway} but its {'tasks' if fargate else 'instances'} "
                "get no public IP, so nothing can pull the image", fix)
    return (f"subnet {sid} (compute environment {ce_name(ce)}) has no route to the internet (no internet gateway or "
            f"NAT for 0.0.0.0/0) and no VPC endpoint for {', '.join(missing)}: the image cannot be pulled",
            "add a NAT gateway route for 0.0.0.0/0 to its route table, or the VPC endpoints " + ", ".join(missing))


def roles(f: Facts) -> list[Finding]:
    """The instance profile (and its role), the service role and its policy, the execution role."""
    out = []
    for ce in f.ces:
        r, name, arn = ce_resources(ce), ce_name(ce), ce_arn(ce)
        profile = r.get("instanceRole")
        if is_managed(ce) and profile and r.get("type") not in limits.FARGATE_TYPES:
            record = f.profiles.get(profile, {})
            if record is None:
                out.append(Finding("instance-profile-missing", f"instance profile {profile} of compute environment {name} "
                                   "does not exist: its instances cannot join the cluster", arn,
                                   "create it with a role that has AmazonEC2ContainerServiceforEC2Role, or update instanceRole",
                                   False, arn))
            elif record and not record.get("Roles"):
                out.append(Finding("instance-profile-empty", f"instance profile {profile} of compute environment {name} "
                                   "holds no role", arn, "add a role with AmazonEC2ContainerServiceforEC2Role to it",
                                   False, arn))
        out += _service_role(f, ce)
    execution = ((f.job_definition or {}).get("containerProperties") or {}).get("executionRoleArn")
    if execution and f.roles.get(execution, {}) is None:
        out.append(Finding("execution-role-missing", f"execution role {execution} does not exist: the image cannot be "
                           "pulled nor the logs written", (f.job_definition or {}).get("jobDefinitionArn", "?"),
                           "create the role (with AmazonECSTaskExecutionRolePolicy) or register the definition with another"))
    return out


def _service_role(f: Facts, ce: dict) -> list[Finding]:
    role, name, arn = ce.get("serviceRole"), ce_name(ce), ce_arn(ce)
    if not role or "aws-service-role" in role:
        return []  # the service-linked role AWS manages
    record = f.roles.get(role, {})
    if record is None:
        return [Finding("service-role-missing", f"service role {role} of compute environment {name} does not exist",
                        arn, "create it with AWSBatchServiceRole attached, or update the compute environment", False, arn)]
    if record and not record.get("policies") and not record.get("inline"):
        return [Finding("service-role-policy", f"service role {role} of compute environment {name} has no policy",
                        role, f"aws iam attach-role-policy --role-name {role.rsplit('/', 1)[-1]} "
                        f"--policy-arn {limits.SERVICE_ROLE_POLICY}", False, arn)]
    return []


def image(f: Facts) -> list[Finding]:
    if f.image_found is False:
        where = (f.job_definition or {}).get("jobDefinitionArn", "?")
        return [Finding("image-missing", f"image {f.image} is not in ECR", where,
                        "push it (./deploy.sh -b) or register the definition with an image that exists (./deploy.sh -u)")]
    return []
