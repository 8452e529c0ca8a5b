"""`-u` / `update-jobs` through the real command line against a moto server over HTTP.

Revisions are checked with the real `aws batch describe-job-definitions`; AWS calls are counted
from moto's request log (Batch calls are `POST /v1/<operation>`). AWS refusals come from a small
HTTP proxy in front of moto that answers some requests itself, as AWS would, and forwards the rest.
"""

from __future__ import annotations

import json
import shutil

import pytest

from batchdeploy.aws import Aws, AwsSettings
from tests.conftest import REGION, ROOT, RequestCounter, aws_cli

NAME = "demo-test-experiment"
REGISTER = ("POST", "/v1/registerjobdefinition")
ENV = (
    "PROJECT_NAME=demo\nENV=test\nVERSION=1.0.0\nAWS_REGISTRY=registry.example.com\nS3_BUCKET=demo-bucket\n"
    "S3_PREFIX=experiments\nJOB_ROLE_ARN=arn:aws:iam::123456789012:role/demoJobRole\n"
)


@pytest.fixture
def jobs_project(moto, project):
    """The project folder with the shipped example template as its job-definition.json."""
    project.write(".aws_env", ENV)
    shutil.copy(ROOT / "job-definition.json.example", project.path / "job-definition.json")
    return project


def set_memory(project, mib: int, name="job-definition.json"):
    path = project.path / name
    data = json.loads(path.read_text())
    for req in data["containerProperties"]["resourceRequirements"]:
        if req["type"] == "MEMORY":
            req["value"] = str(mib)
    path.write_text(json.dumps(data, indent=2))


def active(moto, name=NAME, cli=False) -> list[dict]:
    """ACTIVE revisions of `name`, oldest first: as the real aws CLI sees them (`cli`), or through
    boto3 (faster: the aws CLI takes a second to start)."""
    if cli:
        found = aws_cli(moto, "batch", "describe-job-definitions", "--job-definition-name", name, "--status", "ACTIVE")
    else:
        batch = Aws(AwsSettings(region=REGION, endpoint_url=moto.url)).client("batch")
        found = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
    return sorted(found["jobDefinitions"], key=lambda d: d["revision"])


def registers(counter) -> int:
    return sum(1 for method, path, _ in counter.since() if (method, path) == REGISTER)


def batch_calls(counter) -> list[str]:
    return [path for method, path, _ in counter.since() if path.startswith("/v1/")]


def one_error_line(r, code: int) -> str:
    assert r.returncode == code, (r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("batchdeploy: error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# the happy paths
# ---------------------------------------------------------------------------------------------


def test_twice_makes_exactly_one_revision_and_the_second_run_registers_nothing(jobs_project, moto):
    first = jobs_project.deploy("-u")
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"registered: {NAME}:1 (new)\n"
    assert "IMAGE_TAG=1.0.0 from VERSION" in first.stderr

    counter = RequestCounter(moto)
    second = jobs_project.deploy("-u")
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"unchanged: {NAME}:1\n"
    assert registers(counter) == 0
    assert batch_calls(counter) == ["/v1/describejobdefinitions"]  # one read, nothing else

    (rev,) = active(moto, cli=True)
    state = jobs_project.state("job-definitions.json")
    assert state["default"] == NAME
    entry = state["definitions"][NAME]
    assert entry["arn"] == rev["jobDefinitionArn"] and entry["revision"] == 1
    assert entry["file"] == "job-definition.json" and entry["registered_at"].endswith("+00:00")
    assert rev["tags"]["batchdeploy:project"] == "demo"
    assert rev["tags"]["batchdeploy:hash"] == entry["hash"]
    assert rev["tags"]["project"] == "demo"  # the user's tags are kept beside ours
    assert rev["containerProperties"]["image"] == "registry.example.com/demo:1.0.0"


def test_changed_memory_makes_exactly_one_more_and_the_diff_names_it(jobs_project, moto):
    assert jobs_project.run("update-jobs").returncode == 0
    set_memory(jobs_project, 32000)
    counter = RequestCounter(moto)
    r = jobs_project.run("update-jobs")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"{NAME}: job-definition.json differs from {NAME}:1:",
        "  containerProperties.resourceRequirements MEMORY 16000 -> 32000",
        f"registered: {NAME}:2",
    ]
    assert registers(counter) == 1
    revisions = active(moto, cli=True)
    assert [d["revision"] for d in revisions] == [1, 2]
    assert {"type": "MEMORY", "value": "32000"} in revisions[1]["containerProperties"]["resourceRequirements"]
    assert jobs_project.state("job-definitions.json")["definitions"][NAME]["revision"] == 2
    assert jobs_project.run("update-jobs").stdout == f"unchanged: {NAME}:2\n"


def test_dry_run_prints_the_diff_and_registers_nothing(jobs_project, moto):
    assert jobs_project.run("update-jobs").returncode == 0
    state_before = jobs_project.state("job-definitions.json")
    set_memory(jobs_project, 8000)
    counter = RequestCounter(moto)
    r = jobs_project.deploy("-u", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "  containerProperties.resourceRequirements MEMORY 16000 -> 8000" in r.stdout
    assert r.stdout.splitlines()[-1] == f"would register: {NAME} (replacing {NAME}:1)"
    assert registers(counter) == 0 and len(active(moto)) == 1
    assert jobs_project.state("job-definitions.json") == state_before


def test_dry_run_of_a_new_definition_shows_it_whole_and_records_nothing(jobs_project, moto):
    r = jobs_project.run("update-jobs", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"{NAME} is new (no ACTIVE revision yet), from job-definition.json:" in r.stdout
    assert "  containerProperties.image (none) -> registry.example.com/demo:1.0.0" in r.stdout
    assert active(moto) == [] and not (jobs_project.path / ".batchdeploy" / "job-definitions.json").exists()


def test_json_output_is_one_machine_readable_object(jobs_project, moto):
    assert jobs_project.run("update-jobs").returncode == 0
    set_memory(jobs_project, 4000)
    r = jobs_project.run("update-jobs", "--output", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    (d,) = data["definitions"]
    assert d["status"] == "registered" and d["revision"] == 2 and d["previous_revision"] == 1
    assert d["changes"] == [{"path": "containerProperties.resourceRequirements MEMORY", "before": "16000", "after": "4000"}]
    assert d["arn"].endswith(f":job-definition/{NAME}:2") and len(d["hash"]) == 64
    assert data["dry_run"] is False and data["prune"] is None
    assert data["image_tag"] == {"value": "1.0.0", "from": "VERSION (no image pushed yet by batchdeploy images)"}


def test_image_tag_comes_from_what_images_pushed(jobs_project, moto):
    pushed = {"repository": "registry.example.com/demo", "tag": "c0ffee12", "digest": "sha256:" + "a" * 64,
              "version": "1.0.0", "pushed_at": "2026-01-02T03:04:05+00:00"}
    jobs_project.write_json(".batchdeploy/images.json", {"images": {"demo": pushed}})
    r = jobs_project.run("update-jobs")
    assert r.returncode == 0, r.stderr
    assert "IMAGE_TAG=c0ffee12 from image demo in .batchdeploy/images.json" in r.stderr
    assert active(moto)[0]["containerProperties"]["image"] == "registry.example.com/demo:c0ffee12"
    jobs_project.write_json(".batchdeploy/images.json", {"images": {"demo": {**pushed, "tag": "beef3456"}}})
    r = jobs_project.run("update-jobs")
    assert ("  containerProperties.image registry.example.com/demo:c0ffee12 -> registry.example.com/demo:beef3456"
            in r.stdout)


def test_several_files_and_folders(jobs_project, moto):
    template = json.loads((jobs_project.path / "job-definition.json").read_text())
    for name in ("small", "big"):
        jobs_project.write_json(f"jobs/{name}.json", {**template, "jobDefinitionName": f"demo-{name}"})
    jobs_project.write(".aws_env", ENV + "JOB_DEFINITIONS=job-definition.json jobs\n")
    r = jobs_project.run("update-jobs")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"registered: {NAME}:1 (new)", "registered: demo-big:1 (new)",
                                     "registered: demo-small:1 (new)"]
    state = jobs_project.state("job-definitions.json")
    assert state["default"] == NAME and set(state["definitions"]) == {NAME, "demo-big", "demo-small"}
    assert state["definitions"]["demo-big"]["file"] == "jobs/big.json"


# ---------------------------------------------------------------------------------------------
# prune
# ---------------------------------------------------------------------------------------------


def five_revisions(project):
    for mib in (1000, 2000, 3000, 4000, 5000):
        set_memory(project, mib)
        assert project.run("update-jobs", "-q").returncode == 0


def test_prune_2_after_five_changes_leaves_two(jobs_project, moto):
    five_revisions(jobs_project)
    assert [d["revision"] for d in active(moto)] == [1, 2, 3, 4, 5]

    counter = RequestCounter(moto)
    dry = jobs_project.run("update-jobs", "--prune", "2", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [f"unchanged: {NAME}:5"] + [f"would deregister: {NAME}:{n}" for n in (1, 2, 3)]
    assert len(active(moto)) == 5
    assert not any(p == "/v1/deregisterjobdefinition" for p in batch_calls(counter))

    data = json.loads(jobs_project.run("update-jobs", "--prune", "2", "--dry-run", "--output", "json").stdout)
    assert [(x["name"], x["revision"]) for x in data["prune"]["would_deregister"]] == [(NAME, 1), (NAME, 2), (NAME, 3)]

    counter = RequestCounter(moto)
    r = jobs_project.deploy("-u", "--prune", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"unchanged: {NAME}:5"] + [f"deregistered: {NAME}:{n}" for n in (1, 2, 3)]
    # the plan's read, the 3 deregistrations, and one listing of the project's function definitions (none)
    assert batch_calls(counter) == ["/v1/describejobdefinitions"] + ["/v1/deregisterjobdefinition"] * 3 + [
        "/v1/describejobdefinitions"]
    assert [d["revision"] for d in active(moto, cli=True)] == [4, 5]
    assert jobs_project.run("update-jobs", "--prune", "2").stdout == f"unchanged: {NAME}:5\n"

    # A dry run counts the registration it would make among the revisions it keeps.
    set_memory(jobs_project, 6000)
    r = jobs_project.run("update-jobs", "--prune", "2", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert [x for x in r.stdout.splitlines() if x.startswith("would")] == [
        f"would register: {NAME} (replacing {NAME}:5)", f"would deregister: {NAME}:4"]
    assert [d["revision"] for d in active(moto)] == [4, 5]


@pytest.mark.parametrize("keep", ["0", "-1"])
def test_prune_keep_below_one_is_a_usage_error(jobs_project, moto, keep):
    counter = RequestCounter(moto)
    r = jobs_project.run("update-jobs", "--prune", keep)
    assert one_error_line(r, 2) == (f"batchdeploy: error: --prune KEEP must be at least 1 (got {keep}); "
                                    "the newest revision is always kept")
    assert counter.since() == [] and r.stdout == ""


def test_prune_keeps_revisions_that_active_jobs_use(jobs_project, moto, aws):
    """A job in the queue (found by ListJobs) holds revision 1, a job in another queue that only
    jobs.jsonl knows of holds revision 2; revision 3 goes, 4 (the newest) stays."""
    batch, iam = aws.client("batch"), aws.client("iam")
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(computeEnvironmentName="demo-ce", type="UNMANAGED", state="ENABLED",
                                          serviceRole=role)["computeEnvironmentArn"]
    for queue in ("demo-queue", "other-queue"):
        batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
    for mib in (1000, 2000, 3000, 4000):
        set_memory(jobs_project, mib)
        assert jobs_project.run("update-jobs", "-q").returncode == 0
    # moto's Docker-backed Batch keeps a job waiting (PENDING) on a dependency that never ends.
    moto.batch_use_docker(True)
    held = []
    try:
        for rev, queue in ((1, "demo-queue"), (2, "other-queue")):
            job = batch.submit_job(jobName=f"held-{rev}", jobQueue=queue, jobDefinition=f"{NAME}:{rev}",
                                   dependsOn=[{"jobId": "00000000-0000-0000-0000-000000000000"}])
            held.append(job["jobId"])
        jobs_project.write(".batchdeploy/jobs.jsonl", json.dumps({
            "job_id": held[1], "name": "held-2", "queue": "other-queue",
            "job_definition": f"arn:aws:batch:{REGION}:123456789012:job-definition/{NAME}:2",
            "parameters": {}, "image_tag": "1.0.0", "submitted_at": "2026-01-01T00:00:00+00:00",
            "client_token": "t"}) + "\n")
        jobs_project.write(".aws_env", ENV + "AWS_JOB_QUEUE=demo-queue\n")
        r = jobs_project.run("update-jobs", "--prune", "1")
        assert r.returncode == 0, r.stderr
        out = r.stdout.splitlines()
        assert out[0] == f"unchanged: {NAME}:4"
        assert any(x.startswith(f"kept: {NAME}:1 (used by {held[0]} (") for x in out)
        assert any(x.startswith(f"kept: {NAME}:2 (used by {held[1]} (") for x in out)
        assert f"deregistered: {NAME}:3" in out
        assert [d["revision"] for d in active(moto)] == [1, 2, 4]
    finally:
        for job_id in held:
            batch.terminate_job(jobId=job_id, reason="test over")


def test_prune_leaves_hand_made_and_foreign_revisions_alone(jobs_project, moto, aws):
    """The ownership rule (issue #26): a revision registered by hand (console, CLI, triage's script: no
    batchdeploy tags) or tagged for another project is never deregistered, and a line says why."""
    batch = aws.client("batch")
    for mib, tags in (("100", {"batchdeploy:project": "someone-else"}), ("200", None)):
        batch.register_job_definition(jobDefinitionName=NAME, type="container", **({"tags": tags} if tags else {}),
                                      containerProperties={"image": "x", "resourceRequirements": [
                                          {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": mib}]})
    jobs_project.run("update-jobs")  # 3, ours
    set_memory(jobs_project, 32000)
    r = jobs_project.run("update-jobs", "--prune", "1")
    assert r.returncode == 0, r.stderr
    assert f"registered: {NAME}:4" in r.stdout and f"deregistered: {NAME}:3" in r.stdout
    assert "deregistered: " + f"{NAME}:1" not in r.stdout and f"{NAME}:2" not in r.stdout
    assert f"left alone: {NAME}:2 (not registered by batchdeploy (no batchdeploy:project tag))" in r.stderr
    assert f"left alone: {NAME}:1 (tagged batchdeploy:project=someone-else)" in r.stderr
    assert [d["revision"] for d in active(moto)] == [1, 2, 4]
    data = json.loads(jobs_project.run("update-jobs", "--prune", "1", "--output", "json").stdout)
    assert [(x["revision"], x["reason"]) for x in data["prune"]["left_alone"]] == [
        (2, "not registered by batchdeploy (no batchdeploy:project tag)"), (1, "tagged batchdeploy:project=someone-else")]


# ---------------------------------------------------------------------------------------------
# bad input: one line, the right exit code, nothing registered, no state
# ---------------------------------------------------------------------------------------------


def nothing_changed(project, moto, counter, names=(NAME,)):
    assert registers(counter) == 0
    for name in names:
        assert active(moto, name) == []
    assert not (project.path / ".batchdeploy" / "job-definitions.json").exists()


def test_malformed_json_names_line_and_column(jobs_project, moto):
    jobs_project.write("job-definition.json", '{\n  "jobDefinitionName": "x",\n  "type": "container",\n}\n')
    counter = RequestCounter(moto)
    line = one_error_line(jobs_project.deploy("-u"), 2)
    assert "job-definition.json: invalid JSON at line 4 column 1" in line
    assert batch_calls(counter) == []
    nothing_changed(jobs_project, moto, counter)


def test_missing_template_file(jobs_project, moto):
    (jobs_project.path / "job-definition.json").unlink()
    line = one_error_line(jobs_project.run("update-jobs"), 2)
    assert line == ("batchdeploy: error: 1 problem in the job definitions: job-definition.json: no such file "
                    "(check JOB_DEFINITIONS in .aws_env); nothing was registered; fix them and run again")


def test_unknown_placeholder_names_file_and_placeholder(jobs_project, moto):
    data = json.loads((jobs_project.path / "job-definition.json").read_text())
    data["containerProperties"]["environment"].append({"name": "DB", "value": "${DATABASE_URL}"})
    jobs_project.write_json("job-definition.json", data)
    counter = RequestCounter(moto)
    line = one_error_line(jobs_project.run("update-jobs"), 2)
    assert ("job-definition.json: unknown placeholder ${DATABASE_URL} at containerProperties.environment[3].value "
            "(define DATABASE_URL in .aws_env)") in line
    nothing_changed(jobs_project, moto, counter)


def test_a_definition_aws_would_reject_registers_nothing_not_even_the_good_file(jobs_project, moto):
    template = json.loads((jobs_project.path / "job-definition.json").read_text())
    bad = {**template, "jobDefinitionName": "demo-bad", "timeout": {"attemptDurationSeconds": 30}}
    bad["containerProperties"] = {**template["containerProperties"],
                                  "environment": [{"name": "AWS_BATCH_JOB_ID", "value": "x"}]}
    jobs_project.write_json("jobs/bad.json", bad)
    jobs_project.write(".aws_env", ENV + "JOB_DEFINITIONS=job-definition.json jobs/bad.json\n")
    counter = RequestCounter(moto)
    line = one_error_line(jobs_project.deploy("-u"), 2)
    assert line.startswith("batchdeploy: error: 2 problems in the job definitions: ")
    assert "jobs/bad.json: timeout.attemptDurationSeconds: 30 is below AWS Batch's minimum of 60 seconds" in line
    assert "jobs/bad.json: containerProperties.environment[0].name: 'AWS_BATCH_JOB_ID'" in line
    assert batch_calls(counter) == []  # validated before any AWS call
    nothing_changed(jobs_project, moto, counter, names=(NAME, "demo-bad"))


def test_missing_region_is_a_configuration_error(jobs_project, moto):
    counter = RequestCounter(moto)
    r = jobs_project.run("update-jobs", env={"AWS_REGION": "", "AWS_DEFAULT_REGION": ""})
    assert one_error_line(r, 2) == "batchdeploy: error: no AWS region; set AWS_REGION in .aws_env or the environment"
    nothing_changed(jobs_project, moto, counter)


def test_a_secret_is_never_put_into_a_definition(jobs_project, moto):
    canary = "CANARY-token-5e1f0c2b9d"
    jobs_project.write(".aws_env", ENV + f"API_TOKEN={canary}\n")
    data = json.loads((jobs_project.path / "job-definition.json").read_text())
    data["containerProperties"]["environment"].append({"name": "API_TOKEN", "value": "${API_TOKEN}"})
    jobs_project.write_json("job-definition.json", data)
    counter = RequestCounter(moto)
    r = jobs_project.run("update-jobs")
    line = one_error_line(r, 2)
    assert "${API_TOKEN} at containerProperties.environment[3].value is a secret" in line
    assert canary not in r.stdout + r.stderr
    nothing_changed(jobs_project, moto, counter)


def test_a_name_another_project_owns_is_refused(jobs_project, moto, aws):
    aws.client("batch").register_job_definition(
        jobDefinitionName=NAME, type="container", tags={"batchdeploy:project": "someone-else"},
        containerProperties={"image": "x", "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                                    {"type": "MEMORY", "value": "128"}]})
    counter = RequestCounter(moto)
    line = one_error_line(jobs_project.run("update-jobs", "--prune", "1"), 2)
    assert f"{NAME} belongs to project 'someone-else'" in line
    assert registers(counter) == 0 and len(active(moto)) == 1


# --- AWS refusals, through a proxy that answers for AWS ---------------------------------------


def deny_register(proxy, only_name=None):
    return proxy.add(
        method="POST", path="/v1/registerjobdefinition", status=403, code="AccessDeniedException",
        when=lambda r: only_name is None or r.json()["jobDefinitionName"] == only_name,
        message="User: arn:aws:iam::123456789012:user/dev is not authorized to perform: batch:RegisterJobDefinition",
    )


def test_access_denied_is_one_line_exit_1_and_no_state(jobs_project, moto, proxy):
    refusal = deny_register(proxy)
    counter = RequestCounter(moto)
    r = jobs_project.run("update-jobs", env={"AWS_ENDPOINT_URL": proxy.url})
    line = one_error_line(r, 1)
    assert line.startswith(f"batchdeploy: error: cannot register job definition {NAME} from job-definition.json "
                           "(batch:RegisterJobDefinition): AccessDeniedException: User: ")
    assert line.endswith("; check the credentials and IAM permissions (README: IAM permissions)")
    assert refusal.hits == 1  # refused, not retried
    nothing_changed(jobs_project, moto, counter)


def test_throttling_after_retries_is_exit_1(jobs_project, moto, proxy):
    throttle = proxy.add(method="POST", path="/v1/registerjobdefinition", status=429,
                         code="TooManyRequestsException", message="Too Many Requests")
    counter = RequestCounter(moto)
    r = jobs_project.run("update-jobs", env={"AWS_ENDPOINT_URL": proxy.url, "AWS_MAX_ATTEMPTS": "2"})
    line = one_error_line(r, 1)
    assert "TooManyRequestsException: Too Many Requests; AWS is throttling this account; try again later" in line
    assert throttle.hits == 2  # retried, then given up
    nothing_changed(jobs_project, moto, counter)


def test_a_refusal_after_another_file_registered_records_only_that_one(jobs_project, moto, proxy):
    template = json.loads((jobs_project.path / "job-definition.json").read_text())
    jobs_project.write_json("jobs/second.json", {**template, "jobDefinitionName": "demo-second"})
    jobs_project.write(".aws_env", ENV + "JOB_DEFINITIONS=job-definition.json jobs/second.json\n")
    deny_register(proxy, "demo-second")
    r = jobs_project.run("update-jobs", "-q", env={"AWS_ENDPOINT_URL": proxy.url})
    assert one_error_line(r, 1).startswith("batchdeploy: error: cannot register job definition demo-second")
    assert r.stdout == f"registered: {NAME}:1 (new)\n"
    assert len(active(moto)) == 1 and active(moto, "demo-second") == []
    state = jobs_project.state("job-definitions.json")
    assert list(state["definitions"]) == [NAME] and state["default"] == NAME
    # Once allowed, the next run registers only what is still missing.
    r = jobs_project.run("update-jobs")
    assert r.stdout.splitlines() == [f"unchanged: {NAME}:1", "registered: demo-second:1 (new)"]


def test_access_denied_while_listing_jobs_deregisters_nothing(jobs_project, moto, proxy):
    for mib in (1000, 2000):
        set_memory(jobs_project, mib)
        assert jobs_project.run("update-jobs", "-q").returncode == 0
    jobs_project.write(".aws_env", ENV + "AWS_JOB_QUEUE=demo-queue\n")
    proxy.add(path="/v1/listjobs", status=403, code="AccessDeniedException",
              message="not authorized to perform: batch:ListJobs")
    r = jobs_project.run("update-jobs", "--prune", "1", env={"AWS_ENDPOINT_URL": proxy.url})
    line = one_error_line(r, 1)
    assert "batch:ListJobs" in line and "nothing was deregistered" in line
    assert len(active(moto)) == 2


def test_the_state_file_is_written_atomically_and_holds_no_secret(jobs_project, moto):
    canary = "CANARY-pw-77aa55cc33"
    jobs_project.write(".aws_env", ENV + f"POSTGRES_PASSWORD={canary}\n")
    r = jobs_project.run("update-jobs")
    assert r.returncode == 0 and canary not in r.stdout + r.stderr
    folder = jobs_project.path / ".batchdeploy"
    assert sorted(p.name for p in folder.iterdir()) == ["job-definitions.json"]  # no temporary file left
    assert canary not in (folder / "job-definitions.json").read_text()
    assert canary not in json.dumps(active(moto))


def test_help_lists_the_flags(jobs_project):
    r = jobs_project.deploy("-u", "--help")
    assert r.returncode == 0 and "--dry-run" in r.stdout and "--prune KEEP" in r.stdout



# --- lost answers: never two revisions of one hash (issue #13) --------------------------------


def test_a_lost_register_answer_leaves_one_revision(jobs_project, moto, proxy):
    """RegisterJobDefinition acted, its answer was lost: no SDK retry, the revision is found by its hash tag."""
    proxy.add(operation="registerjobdefinition", nth=1, drop=True)
    r = jobs_project.run("update-jobs", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"registered: {NAME}:1 (new)\n"
    assert proxy.count("registerjobdefinition") == 1
    assert [d["revision"] for d in active(moto)] == [1]
    assert jobs_project.state("job-definitions.json")["definitions"][NAME]["revision"] == 1


def test_a_5xx_before_registering_is_looked_for_then_sent_again(jobs_project, moto, proxy):
    proxy.add(operation="registerjobdefinition", nth=1, status=500, code="ServerException")
    r = jobs_project.run("update-jobs", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert proxy.count("registerjobdefinition") == 2
    assert [d["revision"] for d in active(moto)] == [1]


def test_a_lost_answer_listed_late_ends_with_the_duplicate_deregistered(jobs_project, moto, proxy):
    """The lost call's revision is not listed at the first look (late), so the call is sent again; the
    second look sees both: the later one goes, the first is recorded."""
    proxy.add(operation="registerjobdefinition", nth=1, drop=True)
    proxy.add(operation="describejobdefinitions", nth=2, rewrite=lambda a: {**a, "jobDefinitions": []})
    r = jobs_project.run("update-jobs", env={"AWS_ENDPOINT_URL": proxy.url})
    assert r.returncode == 0, r.stderr
    assert proxy.count("registerjobdefinition") == 2
    assert f"deregistered the duplicate {NAME}:2" in r.stderr
    assert r.stdout == f"registered: {NAME}:1 (new)\n"
    assert [d["revision"] for d in active(moto)] == [1]
    assert jobs_project.state("job-definitions.json")["definitions"][NAME]["revision"] == 1
