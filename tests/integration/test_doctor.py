"""`batchdeploy doctor` against the moto server: each broken setup made for real in moto (or, where moto
cannot hold it, answered so by the fault proxy), and the doctor names that cause and no other."""

from __future__ import annotations

import json

import pytest

from tests import doctor_support as ds
from tests.infra_support import ce_status

pytestmark = pytest.mark.usefixtures("moto")


def doctor(project, proxy, *args, **extra_env):
    r = project.run("doctor", *args, "--output", "json", env={"AWS_ENDPOINT_URL": proxy.url, **extra_env})
    data = json.loads(r.stdout) if r.stdout.strip().startswith(("{", "[")) else None
    return r, data


def checks(data) -> list[str]:
    return [f["check"] for f in data["findings"]]


def submitted(aws, env, vcpus: str | None = None) -> str:
    over = {"resourceRequirements": [{"type": "VCPU", "value": vcpus}]} if vcpus else {}
    return aws.client("batch").submit_job(jobName="exp1", jobQueue=env["queue"], jobDefinition=env["jobdef_arn"],
                                          containerOverrides=over)["jobId"]


def test_a_healthy_queue_and_job_get_a_clean_bill(aws, project, proxy):
    env = ds.environment(aws)
    ds.project_for(project, env)
    r = project.run("doctor", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.both
    assert "no problem found" in r.stdout and "checked: job queue demo-queue" in r.stdout
    job = submitted(aws, env)
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable())
    r, data = doctor(project, proxy, job)
    assert r.returncode == 0, r.both
    assert data["healthy"] and data["findings"] == [] and data["job_status"] == "RUNNABLE"
    assert any("instance type" in c for c in data["checked"]) and any("in ECR" in c for c in data["checked"])
    # read-only: nothing but Describe/Get/List went out
    assert all(op.lower().startswith(("describe", "get", "list")) for op in proxy.operations), proxy.operations
    r = project.deploy("--doctor", job, env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0 and "no problem found" in r.stdout, r.both


def test_a_disabled_queue(aws, project, proxy):
    ds.project_for(project, ds.environment(aws, queue_state="DISABLED"))
    r, data = doctor(project, proxy)
    assert checks(data) == ["queue-disabled"], data
    assert r.returncode == 0
    assert "update-job-queue --job-queue demo-queue --state ENABLED" in data["findings"][0]["fix"]


def test_an_invalid_compute_environment_never_resolves(aws, project, proxy):
    env = ds.environment(aws)
    ds.project_for(project, env)
    proxy.add(path="/v1/describecomputeenvironments", rewrite=ce_status("INVALID", "CLIENT_ERROR - role is gone"))
    r, data = doctor(project, proxy)
    assert checks(data) == ["ce-invalid"] and data["unschedulable"], data
    assert r.returncode == 4
    assert "role is gone" in data["findings"][0]["what"] and data["findings"][0]["where"] == env["ce_arn"]


def test_no_instance_type_holds_64_vcpus(aws, project, proxy):
    env = ds.environment(aws, types=("c5.large", "c5.xlarge"), max_vcpus=256, vcpus="64")
    ds.project_for(project, env)
    job = submitted(aws, env)
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable())
    r, data = doctor(project, proxy, job)
    assert checks(data) == ["no-instance-type-fits"], data
    assert r.returncode == 4 and data["unschedulable"]
    assert "c5.xlarge" in data["findings"][0]["what"]
    text = project.run("doctor", job, env={"AWS_ENDPOINT_URL": proxy.url})
    assert text.returncode == 4 and "[never resolves]" in text.stdout and "fix:" in text.stdout


def test_a_subnet_without_a_route_out(aws, project, proxy):
    env = ds.environment(aws, route=False)
    ds.project_for(project, env)
    r, data = doctor(project, proxy)
    assert checks(data) == ["subnet-no-route"], data
    assert r.returncode == 0 and data["findings"][0]["where"] == env["subnet"]
    assert "NAT" in data["findings"][0]["fix"] and "ecr.dkr" in data["findings"][0]["fix"]


def test_a_missing_instance_profile(aws, project, proxy):
    env = ds.environment(aws)
    ds.project_for(project, env)
    iam = aws.client("iam")
    iam.remove_role_from_instance_profile(InstanceProfileName="ecs-instance", RoleName="ecs-instance")
    iam.delete_instance_profile(InstanceProfileName="ecs-instance")
    r, data = doctor(project, proxy)
    assert checks(data) == ["instance-profile-missing"], data
    assert env["profile"] in data["findings"][0]["what"]


def test_a_service_role_missing_or_without_policy(aws, project, proxy):
    env = ds.environment(aws, policy=False)
    ds.project_for(project, env)
    r, data = doctor(project, proxy)
    assert checks(data) == ["service-role-policy"], data
    assert "attach-role-policy --role-name batch-service" in data["findings"][0]["fix"]
    aws.client("iam").delete_role(RoleName="batch-service")
    r, data = doctor(project, proxy)
    assert checks(data) == ["service-role-missing"], data


def test_an_image_missing_from_ecr_and_a_missing_execution_role(aws, project, proxy):
    env = ds.environment(aws, push=False)
    ds.project_for(project, env)
    job = submitted(aws, env)
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable())
    r, data = doctor(project, proxy, job)
    assert checks(data) == ["image-missing"], data
    aws.client("iam").delete_role(RoleName="task-execution")
    r, data = doctor(project, proxy, job)
    assert checks(data) == ["execution-role-missing", "image-missing"], data


def test_max_vcpus_used_by_running_jobs(aws, project, proxy):
    env = ds.environment(aws, max_vcpus=16)
    ds.project_for(project, env)
    busy = {submitted(aws, env, vcpus="8"), submitted(aws, env, vcpus="8")}
    job = submitted(aws, env)

    def jobs(answer):  # the busy ones RUNNING (moto's Batch ends every job at once), ours RUNNABLE
        for j in answer.get("jobs", []):
            j["status"] = "RUNNING" if j["jobId"] in busy else "RUNNABLE"
            if j["jobId"] in busy:  # as AWS reports an override (moto shows the definition's)
                j["container"]["resourceRequirements"] = [{"type": "VCPU", "value": "8"}]
        return answer

    def running(answer):
        answer["jobSummaryList"] = [{"jobId": i, "jobName": "busy", "status": "RUNNING"} for i in sorted(busy)]
        return answer

    proxy.add(path="/v1/describejobs", rewrite=jobs)
    proxy.add(path="/v1/listjobs", when=lambda r: r.json().get("jobStatus") == "RUNNING", rewrite=running)
    r, data = doctor(project, proxy, job)
    assert checks(data) == ["max-vcpus-used"], data
    assert r.returncode == 0 and "16 of its maxvCpus 16" in data["findings"][0]["what"]


def test_a_misconfiguration_reason_from_aws(aws, project, proxy):
    env = ds.environment(aws)
    ds.project_for(project, env)
    job = submitted(aws, env)
    reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement is higher than the CEs can meet"
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable(reason))
    r, data = doctor(project, proxy, job)
    assert checks(data) == ["job-reason"] and r.returncode == 4, data


def test_fargate_shape_and_platform(aws, project, proxy):
    env = ds.environment(aws, kind="FARGATE", vcpus="3", memory="2048")
    ds.project_for(project, env)
    job = submitted(aws, env)
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable())
    r, data = doctor(project, proxy, job)
    assert checks(data) == ["fargate-shape"] and r.returncode == 4, data
    assert "vCPUs must be one of" in data["findings"][0]["fix"]


def test_a_run_id_is_followed_to_its_jobs(aws, project, proxy):
    from batchdeploy import runs

    env = ds.environment(aws, types=("c5.large",), max_vcpus=256, vcpus="64")
    ds.project_for(project, env, S3_BUCKET="runs-bucket")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="runs-bucket")
    job = submitted(aws, env)
    run_id = "20261130T161200Z-3fa9c1"
    runs.put(s3, "runs-bucket", runs.run_key("runs", run_id, runs.RUN_FILE), {"run_id": run_id})
    runs.put(s3, "runs-bucket", runs.run_key("runs", run_id, runs.SUBMITTED_FILE),
             runs.build_submitted(run_id=run_id, at="x", job_id=job))
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable())
    r, data = doctor(project, proxy, run_id)
    assert r.returncode == 4 and data["job_id"] == job and checks(data) == ["no-instance-type-fits"], r.both


# ---- error paths: one line, a documented code -------------------------------------------------


def one_line(r) -> str:
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_error_paths(aws, project, proxy):
    env = ds.environment(aws)
    ds.project_for(project, env)
    r = project.run("doctor", "00000000-0000-4000-8000-000000000000", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2 and "no job '00000000-0000-4000-8000-000000000000'" in one_line(r)
    r = project.run("doctor", "no-such-name", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2 and "is not a job id, a run id" in one_line(r)
    r = project.run("doctor", "20261130T161200Z-3fa9c1", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2 and "S3_BUCKET is not set" in one_line(r)
    r = project.run("doctor", "--queue", "nope", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2 and "job queue 'nope' does not exist" in one_line(r)
    project.env_file(PROJECT_NAME="demo")
    r = project.run("doctor", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2 and "AWS_JOB_QUEUE" in one_line(r)


def test_a_run_id_unknown_in_the_bucket(aws, project, proxy):
    ds.project_for(project, ds.environment(aws), S3_BUCKET="runs-bucket")
    aws.client("s3").create_bucket(Bucket="runs-bucket")
    r = project.run("doctor", "20261130T161200Z-3fa9c1", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 2 and "no run 20261130T161200Z-3fa9c1" in one_line(r)


def test_aws_refusing_a_describe(aws, project, proxy):
    ds.project_for(project, ds.environment(aws))
    proxy.add(path="/v1/describejobqueues", status=500, code="InternalFailure", times=100)
    r = project.run("doctor", env={"AWS_ENDPOINT_URL": proxy.url, "AWS_MAX_ATTEMPTS": "1"})
    assert r.returncode == 1 and "describe job queue demo-queue" in one_line(r)


def test_no_permission_for_a_peripheral_read_is_noted_not_fatal(aws, project, proxy):
    env = ds.environment(aws)
    ds.project_for(project, env)
    job = submitted(aws, env)
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable())
    proxy.add(operation="DescribeInstanceTypes", status=403, code="UnauthorizedOperation", times=100)
    r, data = doctor(project, proxy, job)
    assert r.returncode == 0, r.both
    assert any("ec2:DescribeInstanceTypes" in u and "UnauthorizedOperation" in u for u in data["unchecked"]), data


def test_no_secret_of_the_job_reaches_the_doctors_output(aws, project, proxy):
    canary = "CANARY-doctor-7b1f0c"
    env = ds.environment(aws, types=("c5.large",), max_vcpus=256, vcpus="64")
    ds.project_for(project, env)
    job = aws.client("batch").submit_job(
        jobName="exp1", jobQueue=env["queue"], jobDefinition=env["jobdef_arn"],
        containerOverrides={"environment": [{"name": "POSTGRES_PASSWORD", "value": canary}]})["jobId"]
    assert canary in json.dumps(aws.client("batch").describe_jobs(jobs=[job])["jobs"])  # the doctor reads it
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable())
    for output in ("text", "json"):
        r = project.run("doctor", job, "--output", output, env={"AWS_ENDPOINT_URL": proxy.url})
        assert r.returncode == 4 and canary not in r.both, r.both


def test_a_spot_environment_whose_allocation_may_not_place_it(aws, project, proxy):
    env = ds.environment(aws, kind="SPOT", extra={"bidPercentage": 40})  # BEST_FIT: AWS's default strategy
    ds.project_for(project, env)
    r, data = doctor(project, proxy)
    assert checks(data) == ["spot-fleet-role", "spot-bid"], data
    assert r.returncode == 4 and "SPOT_CAPACITY_OPTIMIZED" in data["findings"][0]["fix"]


# ---- the findings that had unit tests only, each made for real in moto ------------------------------------


def test_an_instance_profile_with_no_role(aws, project, proxy):
    env = ds.environment(aws)
    ds.project_for(project, env)
    aws.client("iam").remove_role_from_instance_profile(InstanceProfileName="ecs-instance", RoleName="ecs-instance")
    r, data = doctor(project, proxy)
    assert checks(data) == ["instance-profile-empty"], data
    assert r.returncode == 0 and "holds no role" in data["findings"][0]["what"]


def test_a_subnet_the_compute_environment_names_that_is_gone(aws, project, proxy):
    ec2 = aws.client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    doomed = ec2.create_subnet(VpcId=vpc, CidrBlock="172.31.200.0/24")["Subnet"]["SubnetId"]
    env = ds.environment(aws, extra={"subnets": [doomed]})
    ds.project_for(project, env)
    ec2.delete_subnet(SubnetId=doomed)
    r, data = doctor(project, proxy)
    assert checks(data) == ["subnet-missing"], data
    assert r.returncode == 4 and doomed in data["findings"][0]["what"]


def test_a_fargate_job_on_an_ec2_queue_and_gpus_on_fargate(aws, project, proxy):
    env = ds.environment(aws)
    ds.project_for(project, env)
    batch = aws.client("batch")
    fargate = batch.register_job_definition(
        jobDefinitionName="fargate-job", type="container", platformCapabilities=["FARGATE"],
        containerProperties={"image": ds.IMAGE, "command": ["true"], "executionRoleArn": env["execution"],
                             "networkConfiguration": {"assignPublicIp": "ENABLED"},
                             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}]})
    job = batch.submit_job(jobName="f", jobQueue=env["queue"], jobDefinition=fargate["jobDefinitionArn"])["jobId"]
    proxy.add(path="/v1/describejobs", rewrite=ds.runnable())
    r, data = doctor(project, proxy, job)
    assert checks(data) == ["platform-mismatch"] and r.returncode == 4, data
    assert "defined for FARGATE" in data["findings"][0]["what"]


def test_gpus_asked_of_fargate(aws, project, proxy):
    env = ds.environment(aws, kind="FARGATE", vcpus="1", memory="2048")
    ds.project_for(project, env)
    job = aws.client("batch").submit_job(
        jobName="g", jobQueue=env["queue"], jobDefinition=env["jobdef_arn"],
        containerOverrides={"resourceRequirements": [{"type": "GPU", "value": "1"}]})["jobId"]

    def with_gpu(answer):  # as AWS reports the override (moto shows the definition's requirements)
        for j in answer.get("jobs", []):
            j["container"]["resourceRequirements"] = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"},
                                                      {"type": "GPU", "value": "1"}]
        return ds.runnable()(answer)

    proxy.add(path="/v1/describejobs", rewrite=with_gpu)
    r, data = doctor(project, proxy, job)
    assert checks(data) == ["fargate-gpu"] and r.returncode == 4, data
