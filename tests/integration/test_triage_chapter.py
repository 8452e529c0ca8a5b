"""Issue #25: the triage chapter's four pieces on one machine. `make triage-chapter`'s script on a copy of
examples/triage-chapter: the local stack adds PostgreSQL (the example's LOCAL_POSTGRES=yes), a
data-loading job fills raw.*, the experiment job reads its cohort, labels and features from PostgreSQL
with the POSTGRES_* overrides and the password by reference (SSM), trains a grid of models and writes
results to results.* and S3. Then the test changes the data itself and a second job must read the
test's rows; a wrong password fails a job with the database's own message, and no password appears in
output, state files or DescribeJobs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.integration.conftest import ROOT, run_script, script_env

pytestmark = [pytest.mark.engine, pytest.mark.e2e]
EXAMPLE = ROOT / "examples" / "triage-chapter"
CANARY = "CANARY-wrong-pg-password-7d21c4"
TRAIN_AS_OF = "2023-07-01"  # the experiment file's temporal_config


def stack_env(state: Path, cwd: Path) -> dict:
    """Everything the stack's `env` exports (PostgreSQL's keys too), as a user's `source <(... env)`."""
    done = subprocess.run(
        ["bash", "-c", 'source <("$@" env) && env -0', "bash", str(ROOT / "scripts" / "local-stack.sh")],
        env=script_env(state), cwd=cwd, capture_output=True, text=True, timeout=60, check=True,
    )
    env = dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
    return {k: v for k, v in env.items() if k.startswith(("AWS_", "PG", "BATCHDEPLOY_POSTGRES_"))
            or k in ("DOCKER_HOST", "CONTAINER_CLI", "CONTAINERS_CONF", "CONTAINERS_REGISTRIES_CONF")}


def psql(env: dict, sql: str) -> list[list[str]]:
    done = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


def deploy(example: Path, env: dict, *args, timeout=600) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    full.pop("BATCHDEPLOY_ENV_FILE", None)
    return subprocess.run([str(ROOT / "deploy.sh"), *args], cwd=example, env=full, capture_output=True, text=True,
                          timeout=timeout)


def client(env: dict, service: str):
    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def job_id_of(text: str, name: str) -> str:
    line = next(x for x in text.splitlines() if x.startswith(f"submitted job {name}: "))
    return line.rsplit(" ", 1)[1]


def state_text(example: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in (example / ".batchdeploy").rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def chapter(local_stack, tmp_path_factory):
    example = tmp_path_factory.mktemp("chapter") / "triage chapter"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns(".batchdeploy", "results", "__pycache__"))
    env = script_env(local_stack.state, BATCHDEPLOY_EXAMPLE=str(example))
    done = subprocess.run([str(ROOT / "scripts" / "triage-chapter.sh")], env=env, capture_output=True, text=True,
                          timeout=900)
    return example, done, stack_env(local_stack.state, example)


def test_the_chapter_runs_a_triage_shaped_experiment_against_postgres(chapter, local_stack):
    example, done, env = chapter
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    # The stack now runs PostgreSQL (asked for by the example's .aws_env), and says so.
    status = run_script(local_stack.state, "status")
    assert any(line.startswith("postgres  up") for line in status.stdout.splitlines()), status.stdout
    assert "secret POSTGRES_PASSWORD: created as SSM SecureString /batchdeploy/chapter/local/POSTGRES_PASSWORD" in out
    # the four pieces of triage's setup, named at the end as this machine has them
    lines = done.stdout.splitlines()
    assert "triage-chapter: S3 bucket   s3://chapter-local-bucket (moto, http://127.0.0.1:" in "\n".join(lines)
    assert f"triage-chapter: PostgreSQL postgresql://batchdeploy@127.0.0.1:{env['PGPORT']}/batchdeploy" in lines
    assert f"triage-chapter: registry   {env['AWS_REGISTRY']}/chapter" in lines
    assert "triage-chapter: job queue  chapter-local-job-queue" in lines

    # The load job's rows, read back here with SQL.
    (facilities,), = psql(env, "SELECT count(*) FROM raw.facilities")
    assert facilities == "400"
    # The experiment job's results in the database, the same numbers in S3 (brought back by --results).
    job = job_id_of(out, "inspections")
    rows = psql(env, "SELECT m.model_type, m.hyperparameters::text, e.metric, e.value FROM results.models m "
                     f"JOIN results.evaluations e USING (model_id) WHERE m.job_id = '{job}' ORDER BY m.model_id, e.metric")
    evaluations = json.loads((example / "results" / "inspections" / "evaluations.json").read_text())
    from_s3 = sorted((ev["model_type"], json.dumps(ev["hyperparameters"], sort_keys=True), k, v)
                     for ev in evaluations for k, v in ev["metrics"].items())
    from_db = sorted((t, json.dumps(json.loads(h), sort_keys=True), k, float(v)) for t, h, k, v in rows)
    assert len(evaluations) == 5 and from_db == from_s3  # 4 logistic models of the grid and the baseline
    assert {ev["model_type"] for ev in evaluations} == {"logistic", "baseline"}
    metrics = json.loads((example / "results" / "inspections" / "metrics.json").read_text())
    assert 0.5 < metrics["auc"] <= 1  # past failures predict future ones in the generated data


def test_a_second_job_reads_rows_the_test_wrote(chapter):
    example, _, env = chapter
    # The test, not the example, decides the data now: half the facilities lose their inspections.
    psql(env, "DELETE FROM raw.inspections WHERE entity_id % 2 = 0")
    expected = psql(env, f"""SELECT count(*) FROM raw.facilities f WHERE f.opened < DATE '{TRAIN_AS_OF}'
        AND EXISTS (SELECT 1 FROM raw.inspections i WHERE i.entity_id = f.entity_id
                    AND i.inspected_on >= DATE '{TRAIN_AS_OF}' AND i.inspected_on < DATE '{TRAIN_AS_OF}' + interval '6 months')""")[0][0]
    done = deploy(example, env, "-r", "again", "step=experiment",
                  "output_path=s3://chapter-local-bucket/results/again", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    body = client(env, "s3").get_object(
        Bucket="chapter-local-bucket", Key="results/again/metrics.json")["Body"].read()
    assert json.loads(body)["train_rows"] == int(expected) < 250
    job = job_id_of(done.stdout + done.stderr, "again")
    assert psql(env, f"SELECT count(*) FROM results.models WHERE job_id = '{job}'") == [["5"]]


def test_a_wrong_password_fails_the_job_with_the_database_message_and_no_password_leaks(chapter, local_stack):
    example, first, env = chapter
    real = (local_stack.state / "conf" / "postgres.password").read_text().strip()
    done = deploy(example, {**env, "BATCHDEPLOY_POSTGRES_PASSWORD": CANARY}, "-r", "wrongpw", "step=load", "--wait")
    out = done.stdout + done.stderr
    assert done.returncode == 3, out  # what ran failed
    assert 'password authentication failed for user "batchdeploy"' in out
    assert "secret POSTGRES_PASSWORD: updated as SSM SecureString" in out
    job = job_id_of(out, "wrongpw")

    batch = client(env, "batch")
    described = json.dumps(batch.describe_jobs(jobs=[job, job_id_of(first.stdout + first.stderr, "inspections")]),
                           default=str)
    assert job in described and '"valueFrom": "arn:aws:ssm:' in described
    for secret in (CANARY, real):
        assert secret not in out
        assert secret not in first.stdout + first.stderr
        assert secret not in described
        assert secret not in state_text(example)
    # no host (the stack's env not sourced, nothing in .aws_env): the job says which key, exit 2 in the job
    done = deploy(example, {**env, "BATCHDEPLOY_POSTGRES_HOST": ""}, "-r", "nohost", "step=load", "--wait")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "chapter.py: POSTGRES_HOST not set: give the job POSTGRES_HOST" in done.stdout + done.stderr
    # the right password again: the SSM parameter is put back, the next job connects
    assert deploy(example, env, "-r", "load-again", "step=load", "--wait").returncode == 0
