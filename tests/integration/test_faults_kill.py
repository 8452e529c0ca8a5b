"""The fault suite's random rounds (issue #13): SIGKILL at seeded points of an upload and a download, and
lost answers with late listings for `-r` and `-u`, each followed by a clean re-run, against the real
moto server through the fault proxy.

Deterministic: the kill points are request counts seen by the proxy (the Nth mutating S3 request of an
upload, the Nth GET of a download), chosen by a seeded random.Random; the proxy's `before` hook kills
the CLI at that request, then forwards it, so S3 acts on a request whose sender is dead. No test code
sleeps: `-r` and `-u` get a fake clock. BATCHDEPLOY_FAULT_SEED picks another seed (the failing seed is
in every assertion message).

After every re-run: every object and file byte-exact (sha256), zero open multipart uploads, no journal,
no temporary file; one job runs and is recorded; one revision.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests import run_support
from tests.conftest import ROOT
from tests.integration.test_faults import BUCKET, MiB, local_shas, open_uploads, remote_shas, sha
from tests.integration.test_update_jobs import ENV as UPDATE_JOBS_ENV
from tests.run_support import PARAMS, FakeClock, all_jobs, inprocess, records
from tests.s3_support import bucket_fixtures

pytestmark = pytest.mark.faults

SEED = int(os.environ.get("BATCHDEPLOY_FAULT_SEED", "1313"))
KILLS = 3  # killed runs before each clean re-run
batch_env = run_support.batch_env  # fixture
run_project = run_support.run_project  # fixture


s3, proj = bucket_fixtures(BUCKET)  # fixtures


def files(rng: random.Random) -> dict[str, bytes]:
    """Three files uploaded in parts (2-3 parts of 8 MiB) and a dozen small ones, from the seed."""
    out = {f"large/{i}.bin": rng.randbytes(rng.randint(9 * MiB, 20 * MiB)) for i in range(3)}
    out.update({f"small/{i:02}.txt": rng.randbytes(rng.randint(0, 64 * 1024)) for i in range(12)})
    return out


class Killer:
    """Runs the CLI as a subprocess; the proxy's `before` hook SIGKILLs it at the Nth request a rule takes."""

    def __init__(self, proxy, project):
        self.proxy = proxy
        self.project = project
        self.proc = None

    def kill(self, request) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(60)

    def run(self, verb: str, nth: int, *args, **match) -> int:
        """`batchdeploy VERB ARGS` killed at the `nth` request that `match` takes; its exit status."""
        rule = self.proxy.add(nth=nth, before=self.kill, **match)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_ENDPOINT_URL": self.proxy.url}
        self.proc = subprocess.Popen([sys.executable, "-m", "batchdeploy", verb, *args], cwd=self.project.path, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            code = self.proc.wait(120)
            if code == -signal.SIGKILL:  # the request it was killed at reaches S3 before the next run starts
                assert self.proxy.wait_done(rule), "the proxy never finished the request of the kill"
            return code
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proxy.rules.remove(rule)


def later_part(request) -> bool:
    rng = request.headers.get("range", "")
    return request.method == "GET" and rng.startswith("bytes=") and not rng.startswith("bytes=0-")


def stray(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if ".bdpart" in p.name)


def test_sigkill_at_seeded_points_of_an_upload_then_a_clean_rerun(proj, s3, proxy):
    rng = random.Random(SEED)
    src = proj.path / "experiments"
    want = files(rng)
    for rel, data in want.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    killer = Killer(proxy, proj)
    points, codes = [], []
    for _ in range(KILLS):
        # a mutating request (PUT of an object or a part, create/complete/abort) of this bucket
        nth = rng.randint(1, 12)
        points.append(nth)
        codes.append(killer.run("sync-to-s3", nth, bucket=BUCKET, when=lambda r: r.method in ("PUT", "POST", "DELETE")))
    left_open = open_uploads(s3)
    assert -signal.SIGKILL in codes, f"seed {SEED}: no run was killed ({codes})"
    r = proj.run("sync-to-s3", "--delete")
    where = f"seed {SEED}, killed at mutating requests {points} ({codes}), {len(left_open)} uploads left open"
    assert r.returncode == 0, (where, r.stderr)
    assert remote_shas(s3, "experiments") == {rel: sha(d) for rel, d in want.items()}, where
    assert open_uploads(s3) == [], where
    assert not list((proj.path / ".batchdeploy").glob("sync-*-uploads.json")), where
    assert proj.run("sync-to-s3").stdout.startswith("uploaded 0 "), where  # converged


def test_sigkill_at_seeded_points_of_a_download_then_a_clean_rerun(proj, s3, proxy):
    rng = random.Random(SEED + 1)
    want = files(rng)
    for rel, data in want.items():
        s3.put_object(Bucket=BUCKET, Key=f"results/{rel}", Body=data)
    res = proj.path / "results"
    (res / "large").mkdir(parents=True)
    (res / "large" / "0.bin").write_bytes(b"an older version")
    killer = Killer(proxy, proj)
    points, codes = [], []
    for _ in range(KILLS):
        # a ranged GET of a large file's second or later part: with --jobs 1 the parts before it have
        # arrived, so the temporary file holds a part when the kill comes
        nth = rng.randint(1, 3)
        points.append(nth)
        codes.append(killer.run("results", nth, "--jobs", "1", bucket=BUCKET, when=later_part))
    assert -signal.SIGKILL in codes, f"seed {SEED + 1}: no run was killed ({codes})"
    where = f"seed {SEED + 1}, killed at GETs {points} ({codes}), left {stray(res)}"
    dry = proj.run("results", "--delete", "--dry-run")
    assert dry.returncode == 0 and ".bdpart" not in dry.stdout + dry.stderr, (where, dry.stdout)
    r = proj.run("results", "--delete")
    assert r.returncode == 0, (where, r.stderr)
    assert local_shas(res) == {rel: sha(d) for rel, d in want.items()}, where
    assert stray(res) == [], where


def hide(key: str):
    return lambda answer: {**answer, key: []}


@pytest.mark.parametrize("round_", range(3))
def test_run_with_a_lost_answer_and_a_seeded_late_listing_runs_one_job(moto, aws, run_project, batch_env, proxy,
                                                                      monkeypatch, round_):
    rng = random.Random(SEED * 10 + round_)
    fault = rng.choice([{"drop": True}, {"status": 500, "code": "InternalServerError"}])
    late = rng.randint(0, 7)  # ListJobs answers that do not show the new job yet
    proxy.add(operation="submitjob", nth=1, **fault)
    if late:
        proxy.add(operation="listjobs", times=late, rewrite=hide("jobSummaryList"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.chdir(run_project.path)
    code, out, err = inprocess(["run", "exp1", *PARAMS, "--no-credentials"], sleep=FakeClock().sleep)
    where = f"seed {SEED * 10 + round_}: {fault}, listing late by {late}"
    assert code == 0, (where, err)
    made = [j["jobId"] for j in all_jobs(aws, batch_env["queue"])]
    terminated = {b["jobId"] for b in proxy.bodies("terminatejob")}
    running = [j for j in made if j not in terminated]
    assert len(running) == 1, (where, made, terminated, err)
    assert [rec["job_id"] for rec in records(run_project)] == running, where
    assert ("no job was made" in err) is False, where


@pytest.mark.parametrize("round_", range(2))
def test_update_jobs_with_a_lost_answer_and_a_seeded_late_listing_leaves_one_revision(moto, project, proxy, round_):
    rng = random.Random(SEED * 100 + round_)
    project.write(".aws_env", UPDATE_JOBS_ENV)
    project.write("job-definition.json", (ROOT / "job-definition.json.example").read_text())
    proxy.add(operation="registerjobdefinition", nth=1, drop=True)
    late = rng.randint(0, 1)  # the first look does not list it yet
    if late:
        proxy.add(operation="describejobdefinitions", nth=2, rewrite=hide("jobDefinitions"))
    r = project.run("update-jobs", env={"AWS_ENDPOINT_URL": proxy.url})
    where = f"seed {SEED * 100 + round_}, late {late}"
    assert r.returncode == 0, (where, r.stderr)
    from batchdeploy.aws import Aws, AwsSettings

    batch = Aws(AwsSettings(region="us-east-1", endpoint_url=moto.url)).client("batch")
    name = project.state("job-definitions.json")["default"]
    revs = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
    assert [d["revision"] for d in revs] == [project.state("job-definitions.json")["definitions"][name]["revision"]]
