"""Issue #25's last item: the real `triage` (PyPI, 6.0.0) runs a real triage experiment file through `-r`.
`make triage-package`'s script on a copy of examples/triage-package (in a folder whose path holds a
space): the local stack adds PostgreSQL, -b installs triage into an image, -u stores triage's
DATABASE_URL as an SSM SecureString, and `triage experiment experiment.yaml` runs as a Batch job. Then the
test reads triage's own tables back with SQL, changes the source rows itself and runs the experiment
again: triage must have read the test's rows. A wrong password fails the job with the database's
message, and no password appears in output, state files, DescribeJobs or the job's log (CloudWatch Logs).

The first build installs triage from PyPI (minutes); podman's layer cache makes later runs fast."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse

import pytest

from tests.integration.conftest import ROOT, run_script, script_env
from tests.integration.test_triage_chapter import client, deploy, job_id_of, psql, stack_env, state_text

pytestmark = [pytest.mark.engine, pytest.mark.e2e]
EXAMPLE = ROOT / "examples" / "triage-package"
CANARY = "CANARY-wrong-triage-url-5e90b1"
KEPT = 60  # entities the test keeps for the second run


def database_url(env: dict, password: str) -> str:
    q = urllib.parse.quote
    return (f"postgresql://{q(env['PGUSER'], safe='')}:{q(password, safe='')}"
            f"@{env['PGHOST']}:{env['PGPORT']}/{q(env['PGDATABASE'], safe='')}")


@pytest.fixture(scope="module")
def package(local_stack, tmp_path_factory):
    example = tmp_path_factory.mktemp("package") / "triage package"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns(
        ".batchdeploy", "results", "__pycache__", "batchdeploy-launch", "*.crt"))
    env = script_env(local_stack.state, BATCHDEPLOY_EXAMPLE=str(example))
    done = subprocess.run([str(ROOT / "scripts" / "triage-package.sh")], env=env, capture_output=True, text=True,
                          timeout=1800)
    env = stack_env(local_stack.state, example)
    env["PGDATABASE"] = "triagepkg"  # the script gives triage a database of its own, named after the project
    env["BATCHDEPLOY_DATABASE_URL"] = database_url(env, env["BATCHDEPLOY_POSTGRES_PASSWORD"])
    return example, done, env


def raw_log(env: dict, job: str) -> str:
    """The job's log as CloudWatch Logs holds it (batchdeploy masks what it prints; this is unmasked)."""
    stream = client(env, "batch").describe_jobs(jobs=[job])["jobs"][0]["container"]["logStreamName"]
    events = client(env, "logs").get_log_events(logGroupName="/aws/batch/job", logStreamName=stream,
                                                startFromHead=True)["events"]
    return "\n".join(e["message"] for e in events)


def runs(env: dict) -> list[list[str]]:
    return psql(env, "SELECT current_status, triage_version, matrices_made, models_made, models_errored "
                     "FROM triage_metadata.triage_runs ORDER BY id")


def test_the_real_triage_runs_an_experiment_file_as_a_batch_job(package, local_stack):
    example, done, env = package
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    status = run_script(local_stack.state, "status")
    assert any(line.startswith("postgres  up") for line in status.stdout.splitlines()), status.stdout
    assert "secret DATABASE_URL: created as SSM SecureString /batchdeploy/triagepkg/local/DATABASE_URL" in out
    assert "triage: SUCCEEDED" in out and "ran through completion" in out  # triage's own words, in the job's log
    # triage's own tables: the run, completed; the experiment file's grid (one DecisionTreeClassifier)
    # trained once per temporal split (2); each model evaluated with the file's test metrics.
    assert runs(env) == [["completed", "6.0.0", "4", "2", "0"]]
    # the job never asked the instance metadata address (AWS_EC2_METADATA_DISABLED=true in every local job)
    assert psql(env, "SELECT ec2_instance_type IS NULL FROM triage_metadata.triage_runs") == [["t"]]
    models = psql(env, "SELECT model_id, model_type, train_end_time::date FROM triage_metadata.models ORDER BY 3")
    assert [m[1:] for m in models] == [["sklearn.tree.DecisionTreeClassifier", "2012-01-01"],
                                       ["sklearn.tree.DecisionTreeClassifier", "2013-01-01"]]
    evaluations = psql(env, "SELECT model_id, metric, parameter, stochastic_value FROM test_results.evaluations")
    assert sorted((e[0], e[1], e[2]) for e in evaluations) == sorted(
        (m[0], metric, parameter) for m in models
        for metric in ("precision@", "recall@") for parameter in ("10_abs", "10.0_pct"))
    assert all(0 <= float(e[3]) <= 1 for e in evaluations)
    # every entity of data.sql (100) is in each test matrix's cohort, and scored
    assert psql(env, "SELECT count(DISTINCT entity_id) FROM test_results.predictions GROUP BY model_id") == [["100"]] * 2


def test_a_second_run_reads_the_rows_the_test_wrote(package):
    example, _, env = package
    # The test decides the data now: only the first KEPT entities have events and complaints.
    psql(env, f"DELETE FROM events WHERE entity_id > {KEPT}; DELETE FROM complaints WHERE entity_id > {KEPT}")
    # triage's --replace (after `--`, added to the definition's command): rebuild the cohort, labels and
    # features the first run left in the database instead of reusing them.
    done = deploy(example, env, "-r", "again", "--wait", "--", "--replace")
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert [r[0] for r in runs(env)] == ["completed", "completed"]
    # Every test matrix triage built now holds only the test's entities: its cohort query read them.
    as_of, = psql(env, "SELECT max(as_of_date)::date FROM test_results.predictions")[0]
    expected, = psql(env, f"SELECT count(DISTINCT entity_id) FROM events WHERE outcome_date < DATE '{as_of}'")[0]
    got = psql(env, f"SELECT count(DISTINCT entity_id), max(entity_id) FROM test_results.predictions "
                    f"WHERE as_of_date = DATE '{as_of}'")[0]
    assert got == [expected, str(KEPT)] and int(expected) == KEPT


def test_a_wrong_password_fails_the_job_and_no_password_leaks(package, local_stack):
    example, first, env = package
    real = env["BATCHDEPLOY_POSTGRES_PASSWORD"]
    done = deploy(example, {**env, "BATCHDEPLOY_DATABASE_URL": database_url(env, CANARY)}, "-r", "wrongpw", "--wait")
    out = done.stdout + done.stderr
    assert done.returncode == 3, out[-6000:]  # what ran failed
    assert 'password authentication failed for user "batchdeploy"' in out
    assert "secret DATABASE_URL: updated as SSM SecureString" in out
    job = job_id_of(out, "wrongpw")
    described = json.dumps(client(env, "batch").describe_jobs(jobs=[job])["jobs"], default=str)
    assert job in described and '"valueFrom": "arn:aws:ssm:' in described
    # triage logs its whole DATABASE_URL; triage_job.py keeps the password out of the job's log itself
    log = raw_log(env, job_id_of(first.stdout + first.stderr, "triage"))
    assert f"Results will be stored in DB: postgresql://batchdeploy:***@{env['PGHOST']}:" in log
    for secret in (CANARY, real, urllib.parse.quote(real, safe="")):
        assert secret not in log
        assert secret not in out
        assert secret not in first.stdout + first.stderr
        assert secret not in described
        assert secret not in state_text(example)
    # the right URL again: -u puts the SSM parameter back
    again = deploy(example, env, "-u")
    assert again.returncode == 0 and "secret DATABASE_URL: updated as SSM SecureString" in again.stdout + again.stderr
    assert real not in again.stdout + again.stderr
