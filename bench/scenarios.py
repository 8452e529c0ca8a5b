"""The scenarios of issue 9, each run against batchdeploy and its peers in alternation, round by round.

Every side starts each round from the same state: its own fresh bucket (uploads), the same files,
a moto account reset and set up the same way (Batch). Set-up and clean-up happen outside the timed
window and outside the counted requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import (
    NOT_IMPLEMENTED,
    PEERS,
    ROOT,
    CommandFailed,
    NotImplementedVerb,
    Runner,
    Sample,
    Scenario,
    Side,
    measure,
)
from bench.server import LogCounter, MotoServer
from bench.stats import classify_registry, fmt_seconds, import_profile, rotate

S3_ORDER = ("PUT", "GET", "LIST", "HEAD", "POST", "DELETE")
QUEUE = "bench-queue"
FANOUT_JD = "bench-fanout"
UJOB_JD = "bench-job"


@dataclass
class Mode:
    name: str
    files: int
    sync_rounds: int
    big_files: int
    big_mib: int
    big_rounds: int
    fanout_n: int  # batchdeploy's array size, and the size every side is reported at
    fanout_py_n: int
    fanout_loop_n: int
    fanout_rounds: int
    watch_n: int
    watch_loop_n: int
    watch_rounds: int
    u_rounds: int
    b_rounds: int
    rebuild_rounds: int
    startup_runs: int  # per block, for the fast commands (-h, --version)
    startup_slow_runs: int  # per block, for -i, the S3 client floor and aws --version
    startup_blocks: int
    sweep_n: int = 10000  # scenarios 11-12: the sweep's tasks
    sweep_loop_n: int = 500  # the per-task loop's sample, scaled to sweep_n
    sweep_rounds: int = 3
    sweep_watch_sample: int = 1000  # children the describe-them-all peer describes, scaled to sweep_n


FULL = Mode("full", files=2000, sync_rounds=5, big_files=4, big_mib=64, big_rounds=3, fanout_n=1000,
            fanout_py_n=1000, fanout_loop_n=200, fanout_rounds=3, watch_n=1000, watch_loop_n=100, watch_rounds=3,
            u_rounds=5, b_rounds=5, rebuild_rounds=3, startup_runs=10, startup_slow_runs=5, startup_blocks=3)
QUICK = Mode("quick", files=200, sync_rounds=2, big_files=4, big_mib=8, big_rounds=1, fanout_n=1000,
             fanout_py_n=100, fanout_loop_n=3, fanout_rounds=1, watch_n=300, watch_loop_n=3, watch_rounds=1,
             u_rounds=2, b_rounds=2, rebuild_rounds=1, startup_runs=5, startup_slow_runs=1, startup_blocks=2,
             sweep_n=10000, sweep_loop_n=100, sweep_rounds=1, sweep_watch_sample=300)


@dataclass
class Bench:
    mode: Mode
    work: Path
    moto: MotoServer
    runner: Runner
    env: dict
    project: Path
    aws: object  # batchdeploy.aws.Aws, for set-up and clean-up only
    py: str
    aws_cli: str
    s5cmd: str
    values: dict = field(default_factory=dict)  # the project's .aws_env
    log: object = print
    extra_cleanup: list = field(default_factory=list)

    def bd(self, *args) -> list[str]:
        """batchdeploy as a user runs it from the project folder."""
        return [self.py, "-m", "batchdeploy", *map(str, args)]

    def deploy(self, *args) -> list[str]:
        return [str(ROOT / "deploy.sh"), *map(str, args)]

    @property
    def s3(self):
        return self.aws.client("s3")

    @property
    def batch(self):
        return self.aws.client("batch")

    # ---- set-up helpers (never timed, never counted) ---------------------------------------------

    def drop_bucket(self, bucket: str) -> None:
        s3 = self.s3
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents") or []]
                if keys:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            for up in s3.list_multipart_uploads(Bucket=bucket).get("Uploads") or []:
                s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
            s3.delete_bucket(Bucket=bucket)
        except Exception as exc:  # noqa: BLE001 - clean-up is best effort; the next round uses new names
            self.log(f"  (clean-up of bucket {bucket} failed: {exc})")

    def reset_batch(self) -> None:
        """A fresh moto account with one queue and one job definition, jobs marked SUCCEEDED at once, and
        the project's bucket (S3_BUCKET), which `run` writes its run record to (issue #15), as a user's has."""
        self.moto.reset()
        self.moto.batch_use_docker(False)
        self.aws.client("s3").create_bucket(Bucket=self.values["S3_BUCKET"])
        iam, batch = self.aws.client("iam"), self.batch
        role = iam.create_role(RoleName="bench-batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        ce = batch.create_compute_environment(
            computeEnvironmentName="bench-ce", type="UNMANAGED", state="ENABLED", serviceRole=role
        )
        batch.create_job_queue(
            jobQueueName=QUEUE, state="ENABLED", priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}],
        )
        batch.register_job_definition(
            jobDefinitionName=FANOUT_JD, type="container", parameters={"set": "none"},
            containerProperties={
                "image": "busybox", "command": ["echo", "Ref::set"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
            },
        )


# ---- files -----------------------------------------------------------------------------------------


def make_tree(root: Path, n: int, seed: int = 9) -> list[str]:
    """n files of 1-8 KiB in nested folders, all dated an hour ago (a tree that exists before the sync,
    so time-based tools are not handed a same-second upload to second-guess)."""
    rnd = random.Random(seed)
    rels = []
    old = time.time() - 3600
    for i in range(n):
        rel = f"exp{i % 20:02d}/run{i % 3}/file-{i:05d}.txt"
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rnd.randbytes(rnd.randint(1024, 8192)))
        os.utime(p, (old, old))
        rels.append(rel)
    return rels


def edit_files(root: Path, rels: list[str], k: int, round_no: int) -> list[str]:
    """Edit k files spread over the tree: appended bytes, so size and time both change for every tool."""
    step = max(1, len(rels) // k)
    chosen = rels[::step][:k]
    for rel in chosen:
        with open(root / rel, "ab") as f:
            f.write(f"edited in round {round_no}\n".encode())
    return chosen


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def compare_trees(source: Path, copy: Path) -> str | None:
    """None when `copy` holds exactly `source`'s files and bytes, else what differs."""
    a, b = tree_digest(source), tree_digest(copy)
    if a == b:
        return None
    missing = sorted(set(a) - set(b))
    extra = sorted(set(b) - set(a))
    differ = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    return f"{len(missing)} missing, {len(extra)} extra, {len(differ)} different of {len(a)} files"


# ---- 1-4: small files --------------------------------------------------------------------------------


SYNC_TOOLS = ("batchdeploy", "aws s3 sync", "s5cmd sync")


def _slug(tool: str) -> str:
    return {"batchdeploy": "bd", "aws s3 sync": "aws", "s5cmd sync": "s5"}[tool]


def up_cmd(b: Bench, tool: str, local: Path, url: str) -> list[str]:
    if tool == "batchdeploy":
        return b.bd("sync-to-s3", "--local", local, "--remote", url)
    if tool == "aws s3 sync":
        return [b.aws_cli, "--endpoint-url", b.moto.url, "s3", "sync", str(local), url]
    return [b.s5cmd, "--endpoint-url", b.moto.url, "sync", f"{local}/", f"{url}/"]


def down_cmd(b: Bench, tool: str, url: str, local: Path) -> list[str]:
    if tool == "batchdeploy":
        return b.bd("sync-from-s3", "--remote", url, "--local", local)
    if tool == "aws s3 sync":
        return [b.aws_cli, "--endpoint-url", b.moto.url, "s3", "sync", url, str(local)]
    return [b.s5cmd, "--endpoint-url", b.moto.url, "sync", f"{url}/*", f"{local}/"]


UP_TEXT = {
    "batchdeploy": "batchdeploy sync-to-s3 --local DIR --remote s3://B/tree",
    "aws s3 sync": "aws --endpoint-url URL s3 sync DIR s3://B/tree",
    "s5cmd sync": "s5cmd --endpoint-url URL sync DIR/ s3://B/tree/",
}
DOWN_TEXT = {
    "batchdeploy": "batchdeploy sync-from-s3 --remote s3://B/tree --local DIR",
    "aws s3 sync": "aws --endpoint-url URL s3 sync s3://B/tree DIR",
    "s5cmd sync": "s5cmd --endpoint-url URL sync 's3://B/tree/*' DIR/",
}


def _sides(texts: dict[str, str]) -> list[Side]:
    return [Side(tool, texts[tool], ours=tool == "batchdeploy") for tool in SYNC_TOOLS]


def _follow_up(before: Side, after: Side, what: str) -> None:
    """A step that needs the previous one's result does not run when that one did not."""
    if not before.ok and after.ok:
        after.mark(before.status if before.status == NOT_IMPLEMENTED else f"not run: the {what} did not succeed")


def small_files(b: Bench) -> list[Scenario]:
    m = b.mode
    n = m.files
    s1 = Scenario("1", f"Upload of {n:,} small files (1-8 KiB)", "a fresh bucket per tool and round", _sides(UP_TEXT),
                  count_order=S3_ORDER)
    s2 = Scenario("2", f"No-change re-sync of the {n:,} files", "the same command again, right after the tool's own upload",
                  _sides(UP_TEXT), count_order=S3_ORDER)
    s3 = Scenario("3", "Re-sync after 10 edits", "10 files edited (bytes appended) after the tool's own upload and re-sync",
                  _sides(UP_TEXT), count_order=S3_ORDER)
    s4 = Scenario("4", f"Download of the {n:,} files", "from the tool's own bucket into an empty folder, checked byte for byte",
                  _sides(DOWN_TEXT), count_order=S3_ORDER)
    b.moto.reset()
    src = b.work / "tree-src"
    shutil.rmtree(src, ignore_errors=True)
    rels = make_tree(src, n)
    for r in range(m.sync_rounds):
        b.log(f"  round {r + 1}/{m.sync_rounds}")
        order = rotate(list(SYNC_TOOLS), r)
        where = {}
        for tool in SYNC_TOOLS:
            bucket = f"bench-{_slug(tool)}-r{r}"
            b.s3.create_bucket(Bucket=bucket)
            base = b.work / "sync" / _slug(tool) / f"r{r}"
            shutil.rmtree(base, ignore_errors=True)
            shutil.copytree(src, base / "tree")  # copy2: the hour-old times travel with the files
            where[tool] = (bucket, base, f"s3://{bucket}/tree")
        for tool in order:
            bucket, base, url = where[tool]
            measure(b.runner, s1, s1.side(tool), up_cmd(b, tool, base / "tree", url), b.project)
        for tool in order:
            _follow_up(s1.side(tool), s2.side(tool), "upload")
            bucket, base, url = where[tool]
            measure(b.runner, s2, s2.side(tool), up_cmd(b, tool, base / "tree", url), b.project)
        for tool in SYNC_TOOLS:
            edit_files(where[tool][1] / "tree", rels, 10, r)
        for tool in order:
            _follow_up(s1.side(tool), s3.side(tool), "upload")
            bucket, base, url = where[tool]
            measure(b.runner, s3, s3.side(tool), up_cmd(b, tool, base / "tree", url), b.project)
        if r == m.sync_rounds - 1 and s3.side("batchdeploy").ok:
            bucket, base, url = where["batchdeploy"]
            diagnose_imports(b, [s2, s3], up_cmd(b, "batchdeploy", base / "tree", url))
        for tool in order:
            _follow_up(s3.side(tool), s4.side(tool), "upload")
            bucket, base, url = where[tool]
            dest = base / "down"
            dest.mkdir()
            if measure(b.runner, s4, s4.side(tool), down_cmd(b, tool, url, dest), b.project):
                wrong = compare_trees(base / "tree", dest)
                if wrong:
                    s4.side(tool).samples.pop()
                    s4.side(tool).mark(f"failed: the download differs from the uploaded tree ({wrong})")
        for tool in SYNC_TOOLS:
            b.drop_bucket(where[tool][0])
            shutil.rmtree(where[tool][1], ignore_errors=True)
    shutil.rmtree(src, ignore_errors=True)
    return [s1, s2, s3, s4]


def diagnose_imports(b: Bench, scenarios: list[Scenario], cmd: list[str]) -> None:
    """One more no-change run of batchdeploy with `-X importtime` (not a sample: the report itself costs
    time), to say how much of a re-sync is module imports rather than work."""
    done = subprocess.run(cmd, cwd=b.project, env={**b.env, "PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True,
                          text=True, timeout=300, check=False)
    total, top = import_profile(done.stderr)
    if done.returncode != 0 or not top:
        return
    biggest = ", ".join(f"{name} {fmt_seconds(sec)}" for name, sec in top[:3])
    text = (f"module imports take {fmt_seconds(total)} of a batchdeploy re-sync (largest: {biggest}; measured once "
            "with python -X importtime, which adds a little overhead of its own)")
    for sc in scenarios:
        sc.diagnosis = text
        sc.notes.append(f"Where batchdeploy's time goes: {text}.")


# ---- 5: large files ----------------------------------------------------------------------------------


def large_files(b: Bench) -> list[Scenario]:
    m = b.mode
    what = f"{m.big_files} files of {m.big_mib} MiB"
    up = Scenario("5up", f"Upload of {what}", "a fresh bucket per tool and round", _sides(UP_TEXT), count_order=S3_ORDER)
    down = Scenario("5down", f"Download of {what}", "from the tool's own bucket into an empty folder, checked by sha256",
                    _sides(DOWN_TEXT), count_order=S3_ORDER)
    b.moto.reset()
    src = b.work / "big-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    old = time.time() - 3600
    for i in range(m.big_files):
        p = src / f"big-{i}.bin"
        with open(p, "wb") as f:
            for _ in range(m.big_mib):
                f.write(os.urandom(1 << 20))
        os.utime(p, (old, old))
    for r in range(m.big_rounds):
        b.log(f"  round {r + 1}/{m.big_rounds}")
        order = rotate(list(SYNC_TOOLS), r)
        where = {}
        for tool in SYNC_TOOLS:
            bucket = f"bench-big-{_slug(tool)}-r{r}"
            b.s3.create_bucket(Bucket=bucket)
            base = b.work / "big" / _slug(tool) / f"r{r}"
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir(parents=True)
            where[tool] = (bucket, base, f"s3://{bucket}/big")
        for tool in order:
            bucket, base, url = where[tool]
            measure(b.runner, up, up.side(tool), up_cmd(b, tool, src, url), b.project)
        for tool in order:
            _follow_up(up.side(tool), down.side(tool), "upload")
            bucket, base, url = where[tool]
            dest = base / "down"
            dest.mkdir()
            if measure(b.runner, down, down.side(tool), down_cmd(b, tool, url, dest), b.project):
                wrong = compare_trees(src, dest)
                if wrong:
                    down.side(tool).samples.pop()
                    down.side(tool).mark(f"failed: the download differs from the uploaded files ({wrong})")
        for tool in SYNC_TOOLS:
            b.drop_bucket(where[tool][0])
            shutil.rmtree(where[tool][1], ignore_errors=True)
    shutil.rmtree(src, ignore_errors=True)
    return [up, down]


# ---- 6: fan-out --------------------------------------------------------------------------------------


def fan_out(b: Bench) -> list[Scenario]:
    m = b.mode
    n = m.fanout_n
    sc = Scenario("6", f"Fan-out: {n:,} parameter sets submitted",
                  "a reset moto account with one queue and job definition per round (jobs marked SUCCEEDED at once)",
                  count_order=("SubmitJob",))
    bd = Side("batchdeploy, one array job", f"batchdeploy run fanout set=all --array-size {n} "
              f"--job-definition {FANOUT_JD} --no-credentials", ours=True, n=n)
    py = Side("Python, one SubmitJob per set", f"python bench/peers/submit_per_set.py --n {m.fanout_py_n}",
              n=m.fanout_py_n, scale_to=n if m.fanout_py_n != n else None)
    loop = Side("shell loop of aws batch submit-job", f"bash bench/peers/submit_loop.sh ... {m.fanout_loop_n}",
                n=m.fanout_loop_n, scale_to=n if m.fanout_loop_n != n else None)
    sc.sides = [bd, py, loop]
    for side in (py, loop):
        if side.scale_to:
            sc.notes.append(f"{side.name}: measured with {side.n:,} sets and scaled linearly to {n:,} "
                            "(each set is one independent call, so time grows with the count).")
    cmds = {
        bd.name: b.bd("run", "fanout", "set=all", "--array-size", n, "--job-definition", FANOUT_JD, "--no-credentials"),
        py.name: [b.py, PEERS / "submit_per_set.py", "--n", m.fanout_py_n, "--queue", QUEUE,
                  "--job-definition", FANOUT_JD],
        loop.name: ["bash", PEERS / "submit_loop.sh", b.aws_cli, b.moto.url, QUEUE, FANOUT_JD, m.fanout_loop_n],
    }
    for r in range(m.fanout_rounds):
        b.log(f"  round {r + 1}/{m.fanout_rounds}")
        for side in rotate(sc.sides, r):
            b.reset_batch()
            measure(b.runner, sc, side, cmds[side.name], b.project)
    return [sc]


# ---- 7: watching -------------------------------------------------------------------------------------


def _json_line(path: str) -> dict:
    for line in Path(path).read_text(errors="replace").splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return {}


def watching(b: Bench) -> list[Scenario]:
    m = b.mode
    n = m.watch_n
    sc = Scenario("7", f"Watching {n:,} jobs to completion",
                  f"{n:,} separate jobs submitted first (not measured); moto's API-only Batch ends them at once, "
                  "so one poll sees them all ended", count_order=("DescribeJobs",))
    watcher = Side("batchdeploy JobWatcher", "python bench/peers/watch_jobs.py IDS (batchdeploy.jobs.watch.JobWatcher.run)",
                   ours=True)
    status = Side("batchdeploy --status", f"./deploy.sh --status --limit {n}", ours=True)
    loop = Side("shell loop: describe-jobs per job", f"bash bench/peers/describe_loop.sh ... 1 (over {m.watch_loop_n} ids)",
                n=m.watch_loop_n, scale_to=n if m.watch_loop_n != n else None)
    batched = Side("aws batch describe-jobs, 100 ids a call", "bash bench/peers/describe_loop.sh ... 100")
    sc.sides = [watcher, status, loop, batched]
    if loop.scale_to:
        sc.notes.append(f"{loop.name}: measured over {loop.n} ids and scaled linearly to {n:,}.")
    ids_file = b.work / "watch-ids.txt"
    few_file = b.work / "watch-ids-few.txt"
    for r in range(m.watch_rounds):
        b.log(f"  round {r + 1}/{m.watch_rounds}")
        b.reset_batch()
        subprocess.run([b.py, str(PEERS / "submit_per_set.py"), "--n", str(n), "--queue", QUEUE, "--job-definition",
                        FANOUT_JD, "--name", "watch", "--ids-out", str(ids_file)], env=b.env, check=True)
        ids = ids_file.read_text().split()
        few_file.write_text("".join(f"{i}\n" for i in ids[: m.watch_loop_n]))
        _record_jobs(b.project, ids)
        cmds = {
            watcher.name: [b.py, PEERS / "watch_jobs.py", ids_file],
            status.name: b.deploy("--status", "--limit", n),
            loop.name: ["bash", PEERS / "describe_loop.sh", b.aws_cli, b.moto.url, few_file, 1],
            batched.name: ["bash", PEERS / "describe_loop.sh", b.aws_cli, b.moto.url, ids_file, 100],
        }
        for side in rotate(sc.sides, r):
            sample = measure(b.runner, sc, side, cmds[side.name], b.project)
            if sample is None:
                continue
            calls = sample.counts.get("DescribeJobs", 0)
            if side is watcher:
                info = _json_line(sample.extra["stdout_file"])
                polls = max(1, int(info.get("rounds", 1)))
                sample.extra.update(polls=polls, per_poll=calls / polls, ended=info.get("ended"))
            elif side is loop:
                sample.extra.update(polls=1, per_poll=calls * n / max(1, m.watch_loop_n))
            else:
                sample.extra.update(polls=1, per_poll=calls)
    return [sc]


def _record_jobs(project: Path, ids: list[str]) -> None:
    """jobs.jsonl as `-r` writes it (the shared state format), so `--status` knows the jobs to show."""
    state = project / ".batchdeploy"
    state.mkdir(exist_ok=True)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = [
        json.dumps({"job_id": i, "name": f"watch-{k}", "queue": QUEUE, "job_definition": FANOUT_JD,
                    "parameters": {"set": str(k)}, "image_tag": None, "submitted_at": now, "client_token": f"bench{k}"})
        for k, i in enumerate(ids)
    ]
    (state / "jobs.jsonl").write_text("\n".join(lines) + "\n")


# ---- 8: no-change -u and -b ---------------------------------------------------------------------------

JOB_DEFINITION = {
    "jobDefinitionName": UJOB_JD,
    "type": "container",
    "parameters": {"experiment_file": "s3://bench/experiments/a.yaml", "output_path": "s3://bench/results"},
    "containerProperties": {
        "image": "${AWS_REGISTRY}/${PROJECT_NAME}:${VERSION}",
        "command": ["python3", "-m", "runner", "Ref::experiment_file", "Ref::output_path"],
        "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "4096"}],
        "environment": [{"name": "PROJECT", "value": "${PROJECT_NAME}"}],
    },
    "retryStrategy": {"attempts": 2},
    "timeout": {"attemptDurationSeconds": 3600},
    "tags": {"project": "${PROJECT_NAME}"},
    "propagateTags": True,
}


def _render(obj, values: dict[str, str]):
    text = json.dumps(obj)
    for k, v in values.items():
        text = text.replace("${" + k + "}", v)
    return json.loads(text)


def update_jobs(b: Bench) -> list[Scenario]:
    m = b.mode
    sc = Scenario("8u", "No-change `-u` against re-registering",
                  "the job definition registered once before the rounds; each round repeats it unchanged",
                  count_order=("RegisterJobDefinition", "DescribeJobDefinitions"))
    ours = Side("batchdeploy -u", "./deploy.sh -u", ours=True)
    peer = Side("aws batch register-job-definition", "aws batch register-job-definition --cli-input-json file://RENDERED")
    sc.sides = [ours, peer]
    (b.project / "job-definition.json").write_text(json.dumps(JOB_DEFINITION, indent=2))
    # The peer registers under its own name: each side then finds the latest revision it made itself
    # (a revision by the other tool, without batchdeploy's tags, would count as a change for -u).
    rendered = b.work / "job-definition.rendered.json"
    rendered.write_text(json.dumps({**_render(JOB_DEFINITION, b.values), "jobDefinitionName": UJOB_JD + "-aws"},
                                   indent=2))
    b.reset_batch()
    try:
        b.runner.run("8u-warm-up", b.deploy("-u"), b.project, True)
    except NotImplementedVerb:
        ours.mark(NOT_IMPLEMENTED)
    except CommandFailed as exc:
        ours.mark(f"failed: the first -u: {exc}")
    sc.notes.append(f"Each side has its own definition name ({UJOB_JD}, {UJOB_JD}-aws), registered once before "
                    "the rounds by that side.")
    cmds = {
        ours.name: b.deploy("-u"),
        peer.name: [b.aws_cli, "--endpoint-url", b.moto.url, "batch", "register-job-definition", "--cli-input-json",
                    f"file://{rendered}"],
    }
    for r in range(m.u_rounds):
        for side in rotate(sc.sides, r):
            measure(b.runner, sc, side, cmds[side.name], b.project)
    return [sc]


DOCKERFILE = """\
FROM batchdeploy-base:bookworm
COPY runner.py /app/runner.py
RUN python3 -m compileall -q /app && python3 -c "import json; print(json.dumps({'built': True}))" > /app/built.json
CMD ["python3", "/app/runner.py"]
"""


def _stack_env(stack_dir: Path, env: dict) -> dict[str, str]:
    done = subprocess.run([str(ROOT / "scripts" / "local-stack.sh"), "env"], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    out = {}
    for line in done.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            words = shlex.split(value)
            out[key] = words[0] if words else ""
    return out


def images(b: Bench) -> list[Scenario]:
    m = b.mode
    sc = Scenario("8b", "No-change `-b` against rebuilding and pushing",
                  "the image built and pushed once before the rounds; each round repeats it unchanged "
                  "(registry requests counted from the local registry's log)",
                  count_order=("push", "blob upload", "look-up", "AWS API calls"))
    ours = Side("batchdeploy -b", "./deploy.sh -b", ours=True)
    peer = Side("podman build --no-cache + push", "bash bench/peers/rebuild.sh podman REG/bench:1.0.0 image IIDS")
    sc.sides = [ours, peer]
    stack_dir = b.work / "stack"
    stack_env = {**b.env, "BATCHDEPLOY_LOCAL_DIR": str(stack_dir)}
    script = str(ROOT / "scripts" / "local-stack.sh")
    if not Path(script).exists():
        sc.status = "not run: no engine (scripts/local-stack.sh is missing)"
        return [sc]
    b.log("  starting the local stack (registry + engine)")
    up = subprocess.run([script, "up"], env=stack_env, capture_output=True, text=True, timeout=900, check=False)
    if up.returncode != 0:
        last = (up.stderr.strip().splitlines() or ["(no message)"])[-1]
        sc.status = f"not run: no engine ({last})"
        return [sc]
    b.extra_cleanup.append(lambda: subprocess.run([script, "down"], env=stack_env, capture_output=True, timeout=300,
                                                  check=False))
    senv = _stack_env(stack_dir, stack_env)
    registry = senv["AWS_REGISTRY"]
    engine = senv.get("CONTAINER_CLI", "podman")
    peer.command = f"bash bench/peers/rebuild.sh {engine} {registry}/bench:1.0.0 image IIDS"
    run_env = {k: senv[k] for k in ("AWS_REGISTRY", "DOCKER_HOST", "CONTAINER_CLI", "CONTAINERS_CONF",
                                    "CONTAINERS_REGISTRIES_CONF") if k in senv}
    b.runner.counters["registry"] = LogCounter(f"http://{registry}/v2/", stack_dir / "log" / "registry.log",
                                               skip_prefixes=(), classifier=classify_registry)
    context = b.project / "image"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "runner.py").write_text("import sys\nprint('experiment', sys.argv[1:])\n")
    iids = b.work / "rebuild-iids.txt"
    b.extra_cleanup.append(lambda: _remove_images(engine, registry, iids, run_env, b.env))
    try:
        b.runner.run("8b-warm-up", b.deploy("-b"), b.project, True, env=run_env, counter="registry")
    except NotImplementedVerb:
        ours.mark(NOT_IMPLEMENTED)
    except CommandFailed as exc:
        ours.mark(f"failed: the first -b: {exc}")
    cmds = {
        ours.name: b.deploy("-b"),
        peer.name: ["bash", PEERS / "rebuild.sh", engine, f"{registry}/bench:1.0.0", context, iids],
    }
    rounds = {ours.name: m.b_rounds, peer.name: m.rebuild_rounds}
    for r in range(max(rounds.values())):
        b.log(f"  round {r + 1}/{max(rounds.values())}")
        for side in rotate(sc.sides, r):
            if r >= rounds[side.name]:
                continue
            aws_mark = b.moto.counter.mark()
            sample = measure(b.runner, sc, side, cmds[side.name], b.project, env=run_env, counter="registry")
            if sample is not None:
                aws_counts, _ = b.moto.counter.counts_since(aws_mark)
                sample.counts["AWS API calls"] = sum(aws_counts.values())
    if m.rebuild_rounds < m.b_rounds:
        sc.notes.append(f"The rebuild runs {m.rebuild_rounds} time(s), batchdeploy -b {m.b_rounds}: a rebuild is slow.")
    sc.notes.append("batchdeploy -b talks to no AWS API for a registry that is not ECR (the local stack's registry).")
    return [sc]


def _remove_images(engine: str, registry: str, iids: Path, run_env: dict, env: dict) -> None:
    """Remove exactly the images this run made: those tagged in our registry, and our rebuilds' ids."""
    full = {**env, **run_env}
    listed = subprocess.run([engine, "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                             f"reference={registry}/*"], env=full, capture_output=True, text=True, check=False)
    refs = [r for r in listed.stdout.split() if r.startswith(registry + "/")]
    ids = iids.read_text().split() if iids.exists() else []
    for ref in [*refs, *ids]:
        subprocess.run([engine, "rmi", "-f", ref], env=full, capture_output=True, check=False)


# ---- 9: start-up -------------------------------------------------------------------------------------


def startup(b: Bench) -> list[Scenario]:
    m = b.mode
    sc = Scenario("9", "Start-up", "the whole command, from exec to exit; `-i` asks STS who we are and runs "
                  "the version commands of the tools it reports", count_order=("POST /",))
    hyperfine = shutil.which("hyperfine")
    runs = f"{m.startup_runs} runs ({m.startup_slow_runs} for -i, the S3 client floor and aws --version)"
    how = (f"hyperfine -N, {runs} in each of {m.startup_blocks} alternating blocks (one warm-up run in the first)"
           if hyperfine else f"an own timing loop (hyperfine not installed), {runs} in each of {m.startup_blocks} "
           "alternating blocks (one warm-up run in the first)")
    sc.what += f"; timed by {how}"
    sides = [
        (Side("./deploy.sh -h", "./deploy.sh -h", ours=True), b.deploy("-h"), m.startup_runs),
        (Side("./deploy.sh -i", "./deploy.sh -i", ours=True), b.deploy("-i"), m.startup_slow_runs),
        (Side("python -m batchdeploy --version", "python -m batchdeploy --version", ours=True), b.bd("--version"),
         m.startup_runs),
        (Side("S3 client floor", "python bench/peers/client_floor.py", ours=True),
         [b.py, PEERS / "client_floor.py"], m.startup_slow_runs),
        (Side("aws --version", "aws --version"), [b.aws_cli, "--version"], m.startup_slow_runs),
    ]
    sc.sides = [s for s, _, _ in sides]
    cmds = {s.name: (c, n) for s, c, n in sides}
    sc.notes.append("`python -m batchdeploy --version` is the Python core's floor (interpreter, imports, argument "
                    "parsing): every verb pays at least this.")
    sc.notes.append("The S3 client floor is what any boto3-based command pays before its first request: the "
                    "interpreter, boto3 and botocore imported, one S3 client made (botocore loads and parses its "
                    "JSON service model); it makes no request.")
    b.reset_batch()
    for block in range(m.startup_blocks):
        for side in rotate(sc.sides, block):
            if not side.ok:
                continue
            try:
                cmd, runs = cmds[side.name]
                _time_block(b, side, cmd, runs, bool(hyperfine), block)
            except NotImplementedVerb:
                side.mark(NOT_IMPLEMENTED)
            except CommandFailed as exc:
                side.mark(f"failed: {exc}")
    return [sc]


def _time_block(b: Bench, side: Side, cmd: list[str], runs: int, use_hyperfine: bool, block: int) -> None:
    counter = b.runner.counters["aws"]
    warmup = 1 if block == 0 else 0  # the first block warms the page cache for the later ones
    if use_hyperfine:
        out = b.work / f"hyperfine-{block}-{abs(hash(side.name))}.json"
        mark = counter.mark()
        done = subprocess.run(
            ["hyperfine", "-N", "--warmup", str(warmup), "--runs", str(runs), "--style", "none", "--export-json",
             str(out), shlex.join(str(c) for c in cmd)],
            cwd=b.project, env=b.env, capture_output=True, text=True, timeout=900, check=False,
        )
        if done.returncode != 0:
            raise CommandFailed(f"hyperfine: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        result = json.loads(out.read_text())["results"][0]
        counts, errs = counter.counts_since(mark)
        per_run = {k: v / (runs + warmup) for k, v in counts.items()}
        # hyperfine reports the mean user and system time of the runs (children included).
        cpu = result["user"] + result["system"] if "user" in result and "system" in result else None
        for t in result["times"]:
            side.samples.append(Sample(t, per_run, errs, cpu=cpu))
        return
    if warmup:
        b.runner.run(f"9-{side.name}-warm-up", cmd, b.project, side.ours)
    for _ in range(runs):
        side.samples.append(b.runner.run(f"9-{side.name}", cmd, b.project, side.ours))
