"""The doctor's checks as pure functions over Facts: each broken fact gives its finding, and only it."""

from batchdeploy.doctor import checks, limits, reach
from batchdeploy.doctor.diagnose import blocking, diagnose, shape_of, with_overrides
from batchdeploy.doctor.model import Facts, InstanceType, Network, Shape

CE = "arn:aws:batch:us-east-1:123456789012:compute-environment/ce"
CE2 = "arn:aws:batch:us-east-1:123456789012:compute-environment/ce2"
PROFILE = "arn:aws:iam::123456789012:instance-profile/p"
SERVICE = "arn:aws:iam::123456789012:role/svc"


def ce(arn=CE, kind="EC2", types=("c5",), max_vcpus=16, **extra):
    r = {"type": kind, "maxvCpus": max_vcpus, "subnets": ["subnet-1"]}
    if not kind.startswith("FARGATE"):
        r.update(instanceTypes=list(types), instanceRole=PROFILE)
    r.update(extra.pop("resources", {}))
    return {"computeEnvironmentArn": arn, "computeEnvironmentName": arn.rsplit("/", 1)[1], "type": "MANAGED",
            "state": "ENABLED", "status": "VALID", "serviceRole": SERVICE, "computeResources": r, **extra}


def healthy(**changes) -> Facts:
    f = Facts(
        job={"jobId": "j", "jobArn": "arn:job/j", "status": "RUNNABLE"},
        job_definition={"jobDefinitionArn": "arn:jd", "containerProperties": {"image": "x"}},
        queue={"jobQueueName": "q", "jobQueueArn": "arn:q", "state": "ENABLED", "status": "VALID"},
        ces=[ce()],
        shape=Shape(vcpus=2, memory=2048),
        instance_types={"c5.large": InstanceType("c5.large", 2, 4096), "c5.xlarge": InstanceType("c5.xlarge", 4, 8192)},
        used_vcpus={CE: 0.0},
        network=Network(
            subnets={"subnet-1": {"SubnetId": "subnet-1", "VpcId": "vpc-1", "MapPublicIpOnLaunch": True}},
            route_tables={"vpc-1": [{"Associations": [{"Main": True}],
                                     "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}]}]},
            endpoints={"vpc-1": []}),
        profiles={PROFILE: {"Roles": [{"RoleName": "r"}]}},
        roles={SERVICE: {"policies": [limits.SERVICE_ROLE_POLICY], "inline": []}},
        image_found=True,
    )
    for k, v in changes.items():
        setattr(f, k, v)
    return f


def found(f: Facts) -> list[str]:
    return [x.check for x in diagnose(f).findings]


def test_a_healthy_setup_has_no_finding():
    d = diagnose(healthy())
    assert d.findings == [] and not d.unschedulable


def test_misconfiguration_reason_never_resolves():
    f = healthy(job={"jobId": "j", "status": "RUNNABLE", "statusReason":
                     "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement is higher"})
    d = diagnose(f)
    assert found(f) == ["job-reason"] and d.unschedulable
    assert "--vcpus" in d.findings[0].fix


def test_a_capacity_reason_is_named_but_may_resolve():
    f = healthy(job={"jobId": "j", "status": "RUNNABLE", "statusReason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"})
    assert found(f) == ["job-reason"] and not diagnose(f).unschedulable


def test_queue_invalid_and_disabled():
    f = healthy(queue={"jobQueueName": "q", "jobQueueArn": "arn:q", "state": "DISABLED", "status": "INVALID",
                       "statusReason": "CE gone"})
    d = diagnose(f)
    assert found(f) == ["queue-invalid", "queue-disabled"] and d.unschedulable
    assert "CE gone" in d.findings[0].what


def test_ce_invalid_blocks_only_when_every_ce_has_a_never():
    bad = ce(status="INVALID", statusReason="role missing")
    f = healthy(ces=[bad, ce(CE2)], used_vcpus={CE: 0, CE2: 0})
    assert found(f) == ["ce-invalid"] and not diagnose(f).unschedulable
    f = healthy(ces=[bad])
    assert diagnose(f).unschedulable and "role missing" in diagnose(f).findings[0].what


def test_ce_disabled_is_named_and_may_resolve():
    f = healthy(ces=[ce(state="DISABLED")])
    assert found(f) == ["ce-disabled"] and not diagnose(f).unschedulable


def test_no_instance_type_holds_64_vcpus():
    f = healthy(shape=Shape(vcpus=64, memory=2048), ces=[ce(max_vcpus=256)])
    d = diagnose(f)
    assert found(f) == ["no-instance-type-fits"] and d.unschedulable
    assert "c5.xlarge" in d.findings[0].what


def test_memory_and_gpus_count_too():
    assert found(healthy(shape=Shape(vcpus=2, memory=16384))) == ["no-instance-type-fits"]
    assert found(healthy(shape=Shape(vcpus=2, memory=1024, gpus=1))) == ["no-instance-type-fits"]


def test_types_of_other_families_do_not_count():
    types = {"c5.large": InstanceType("c5.large", 2, 4096), "m5.24xlarge": InstanceType("m5.24xlarge", 96, 393216)}
    assert found(healthy(shape=Shape(vcpus=64, memory=2048), ces=[ce(max_vcpus=256)], instance_types=types)) == \
        ["no-instance-type-fits"]


def test_max_vcpus_below_the_job_never_resolves():
    f = healthy(ces=[ce(max_vcpus=1)])
    assert "max-vcpus-below-job" in found(f) and diagnose(f).unschedulable


def test_max_vcpus_in_use_may_resolve():
    f = healthy(used_vcpus={CE: 15.0})
    d = diagnose(f)
    assert found(f) == ["max-vcpus-used"] and not d.unschedulable
    assert "17" in d.findings[0].fix


def test_fargate_pairs_gpus_and_platform():
    fargate = ce(kind="FARGATE", max_vcpus=16)
    ok = healthy(ces=[fargate], shape=Shape(vcpus=1, memory=2048, platform="FARGATE"))
    ok.job_definition = {"containerProperties": {"networkConfiguration": {"assignPublicIp": "ENABLED"}}}
    assert found(ok) == []
    bad = healthy(ces=[fargate], shape=Shape(vcpus=3, memory=2048, platform="FARGATE"), job_definition=ok.job_definition)
    assert found(bad) == ["fargate-shape"] and diagnose(bad).unschedulable
    gpu = healthy(ces=[fargate], shape=Shape(vcpus=1, memory=2048, gpus=1, platform="FARGATE"),
                  job_definition=ok.job_definition)
    assert found(gpu) == ["fargate-gpu"]
    assert found(healthy(shape=Shape(vcpus=1, memory=2048, platform="FARGATE"))) == ["platform-mismatch"]


def test_spot_best_fit_without_fleet_role_and_low_bid():
    f = healthy(ces=[ce(kind="SPOT", resources={"bidPercentage": 40})])
    assert found(f) == ["spot-fleet-role", "spot-bid"]
    f = healthy(ces=[ce(kind="SPOT", resources={"bidPercentage": 40, "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED"})])
    assert found(f) == []


def _no_default_route(f):
    f.network.route_tables["vpc-1"][0]["Routes"] = [{"DestinationCidrBlock": "172.31.0.0/16", "GatewayId": "local"}]
    return f


def test_subnet_without_a_route_and_without_endpoints():
    f = _no_default_route(healthy())
    assert found(f) == ["subnet-no-route"]
    f.network.endpoints["vpc-1"] = [{"ServiceName": f"com.amazonaws.us-east-1.{s}"} for s in limits.PULL_ENDPOINTS]
    assert found(f) == []


def test_a_nat_route_is_a_way_out_and_an_igw_needs_a_public_ip():
    f = healthy()
    f.network.route_tables["vpc-1"][0]["Routes"] = [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}]
    assert found(f) == []
    f = healthy()
    f.network.subnets["subnet-1"]["MapPublicIpOnLaunch"] = False
    assert found(f) == ["subnet-no-route"]
    assert "map-public-ip-on-launch" in diagnose(f).findings[0].fix


def test_an_explicit_association_wins_over_the_main_table():
    f = healthy()
    f.network.route_tables["vpc-1"].append({"Associations": [{"SubnetId": "subnet-1"}], "Routes": []})
    assert found(f) == ["subnet-no-route"]


def test_missing_subnet():
    assert found(healthy(network=Network(subnets={}, route_tables={}, endpoints={}))) == ["subnet-missing"]


def test_roles_profiles_and_image():
    assert found(healthy(profiles={PROFILE: None})) == ["instance-profile-missing"]
    assert found(healthy(profiles={PROFILE: {"Roles": []}})) == ["instance-profile-empty"]
    assert found(healthy(roles={SERVICE: None})) == ["service-role-missing"]
    assert found(healthy(roles={SERVICE: {"policies": [], "inline": []}})) == ["service-role-policy"]
    jd = {"jobDefinitionArn": "arn:jd", "containerProperties": {"executionRoleArn": "arn:role/x"}}
    assert found(healthy(job_definition=jd, roles={SERVICE: {"policies": ["p"]}, "arn:role/x": None})) == \
        ["execution-role-missing"]
    assert found(healthy(image_found=False, image="acct.dkr.ecr/x:1")) == ["image-missing"]
    # not looked at (no permission, or not ECR) is no finding
    assert found(healthy(profiles={}, roles={}, image_found=None)) == []


def test_blocking_rules():
    from batchdeploy.doctor.model import Finding

    a = Finding("x", "w", "a", "f", True, CE)
    b = Finding("y", "w", "b", "f", False, CE2)
    assert blocking([a, b], [CE, CE2]) == []
    assert blocking([a], [CE]) == [a]
    assert blocking([Finding("q", "w", "q", "f", True)], [CE]) != []


def test_shapes():
    assert shape_of({"vcpus": 2, "memory": 512}) == Shape(2, 512, 0, "EC2")
    c = {"resourceRequirements": [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "1024"},
                                  {"type": "GPU", "value": "2"}]}
    assert shape_of(c, ["FARGATE"]) == Shape(0.5, 1024, 2, "FARGATE")
    over = {"resourceRequirements": [{"type": "VCPU", "value": "8"}]}
    assert with_overrides(Shape(1, 2048), over) == Shape(8, 2048)


def test_limits():
    assert limits.type_patterns(["optimal", "c5", "m5.large"]) == ["c4.*", "m4.*", "r4.*", "c5.*", "m5.large"]
    assert limits.allows(["c5"], "c5.large") and not limits.allows(["c5"], "c5n.large")
    assert limits.fargate_fits(0.25, 512) and not limits.fargate_fits(0.25, 4096) and limits.fargate_fits(16, 122880)
    assert "512, 1024, 2048" in limits.fargate_pairs_text(0.25)
    assert "one of" in limits.fargate_pairs_text(3)


def test_every_finding_is_in_the_doctors_page():
    """docs/doctor.md ("Stuck in RUNNABLE") is the doctor's list: every finding the code can make."""
    import re
    from pathlib import Path

    section = (Path(__file__).resolve().parents[3] / "docs" / "doctor.md").read_text()
    assert section.startswith("# Stuck in RUNNABLE")
    made = set()
    for module in (checks, reach):
        made |= set(re.findall(r'Finding\(\s*"([a-z0-9-]+)"', Path(module.__file__).read_text()))
    assert len(made) >= 20
    assert sorted(n for n in made if f"`{n}`" not in section) == []
