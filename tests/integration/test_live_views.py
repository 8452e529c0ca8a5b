"""The live views as a user sees them: the real CLI under a pseudo-terminal (python's pty module) against
the moto server, and the same commands through pipes (CI): a spinner, time per state, an array's bar and
the sync's progress bar on a terminal; colour gone with NO_COLOR=1; plain readable lines, with no escape
code, without a terminal; nothing but results with --quiet."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time

import pytest

from tests import run_support
from tests.conftest import ROOT
from tests.run_support import PARAMS
from tests.s3_support import bucket_fixtures

batch_env = run_support.batch_env  # fixture
run_project = run_support.run_project  # fixture
s3, proj = bucket_fixtures("views-bucket")  # fixtures

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# An SGR escape that sets a colour (foreground, background, bright, 256/true colour); bold is not one.
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
SPINNER = re.compile("[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]")  # rich's "dots"


def in_pty(project, *args, env=None, timeout=120) -> tuple[int, str]:
    """`./deploy.sh ARGS` in `project` on a pseudo-terminal (stdout and stderr both): (exit code, screen)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "BATCHDEPLOY_PYTHON": sys.executable, "TERM": "xterm-256color",
                "COLUMNS": "120", "LINES": "40", **(env or {})}
    if "NO_COLOR" not in (env or {}):
        full_env.pop("NO_COLOR", None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, its terminal the pty
        os.chdir(project.path)
        os.execvpe(str(ROOT / "deploy.sh"), [str(ROOT / "deploy.sh"), *args], full_env)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            os.kill(pid, 9)
            pytest.fail("the CLI did not end under the pty")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def paced(moto, proxy):
    """Jobs that spend about 1.6 s in each of PENDING, RUNNABLE and STARTING, then fail with exit code 3:
    the fault proxy answers DescribeJobs so, by the wall time since the first look (moto itself ends a
    job at once when it runs no container). The CLI is pointed at the proxy by the env this returns."""
    start: list[float] = []
    schedule = (("PENDING", 1.6), ("RUNNABLE", 3.2), ("STARTING", 4.8))

    def edit(answer):
        start[:] = start or [time.monotonic()]
        waited = time.monotonic() - start[0]
        for job in answer.get("jobs", []):
            state = next((name for name, until in schedule if waited < until), "FAILED")
            job["status"] = state
            if state != "FAILED":
                job.pop("startedAt", None), job.pop("stoppedAt", None)
            else:
                job["statusReason"] = "Essential container in task exited"
                job.setdefault("container", {})["exitCode"] = 3
        return answer

    proxy.add(path="/v1/describejobs", rewrite=edit)
    return {"AWS_ENDPOINT_URL": proxy.url}


def plain(screen: str) -> str:
    return ESCAPE.sub("", screen)


# Under `paced`, the job is PENDING, RUNNABLE and STARTING 1.6 s each, then FAILED (exit code 3): exit 3,
# and every state was seen and timed.
STATES_TIMED = re.compile(r"PENDING \d+:\d\d, RUNNABLE \d+:\d\d, STARTING \d+:\d\d")


def test_wait_on_a_terminal_shows_a_spinner_time_per_state_in_colour(paced, run_project):
    code, screen = in_pty(run_project, "-r", "exp1", *PARAMS, "--no-credentials", "--wait", env=paced)
    assert code == 3, screen
    assert SPINNER.search(screen), screen
    text = plain(screen)
    assert re.search(SPINNER.pattern + r" exp1: RUNNABLE", text), text  # the view while it waited
    assert re.search(r"✗ exp1: FAILED +(SUBMITTED \d+:\d\d, )?" + STATES_TIMED.pattern, text), text  # and its last frame
    assert COLOUR.search(screen)
    assert re.search(r"error: job exp1 \(\S+\) failed: FAILED", text)


def test_no_color_takes_out_the_colour_and_keeps_the_view(paced, run_project):
    code, screen = in_pty(run_project, "-r", "exp1", *PARAMS, "--no-credentials", "--wait", env={**paced, "NO_COLOR": "1"})
    assert code == 3, screen
    assert SPINNER.search(screen) and STATES_TIMED.search(plain(screen)), screen
    assert not COLOUR.search(screen), repr(screen[:2000])


def test_a_job_that_ends_at_once_still_gets_a_view_and_its_end(moto, run_project):
    code, screen = in_pty(run_project, "-r", "exp1", *PARAMS, "--no-credentials", "--wait")
    assert code == 0, screen
    assert "✓ exp1: SUCCEEDED" in plain(screen) and re.search(r"job exp1 \(\S+\) SUCCEEDED", plain(screen))


def test_an_array_on_a_terminal_is_counts_per_state_with_a_bar(moto, run_project):
    code, screen = in_pty(run_project, "-r", "fan", *PARAMS, "--no-credentials", "--array-size", "3", "--wait")
    assert code == 0, screen
    text = plain(screen)
    assert re.search(r"3 tasks: 3 SUCCEEDED; 3/3 done", text), text
    assert "━" in screen


def test_wait_without_a_terminal_is_plain_lines_with_time_per_state(paced, run_project):
    r = run_project.deploy("-r", "exp1", *PARAMS, "--no-credentials", "--wait", env=paced)
    assert r.returncode == 3, r.stderr
    assert "\x1b" not in r.stderr + r.stdout and "\r" not in r.stderr
    states = [line for line in r.stderr.splitlines() if re.match(r"\[\+\d+s\] exp1: ", line)]
    seen = [line.split(": ")[1].split(";")[0] for line in states]
    assert seen[-4:] == ["PENDING", "RUNNABLE", "STARTING", "FAILED"], r.stderr
    assert STATES_TIMED.search(states[-1]), r.stderr


def test_quiet_on_a_terminal_draws_nothing(moto, run_project):
    code, screen = in_pty(run_project, "-q", "-r", "exp1", *PARAMS, "--no-credentials", "--wait")
    assert code == 0, screen
    assert not SPINNER.search(screen) and "SUCCEEDED" not in screen and "\x1b[" not in screen


def _many_files(proj, n=60):
    src = proj.path / "experiments"
    for i in range(n):
        (src / f"d{i % 5}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 5}" / f"f{i}.txt").write_text(f"file {i}\n" * 200)
    return n


def test_sync_on_a_terminal_is_one_progress_bar_without_per_file_lines(proj):
    n = _many_files(proj)
    code, screen = in_pty(proj, "--sync-to-s3")
    assert code == 0, screen
    text = plain(screen)
    assert re.search(rf"{n}/{n} files +\S+ \S*B/\S+ \S*B +\S+ \S*B/s +ETA \d+:\d\d", text), text
    assert "━" in screen and "upload: " not in text
    assert f"uploaded {n} (" in text


def test_sync_verbose_adds_a_line_per_file_and_no_color_has_no_colour(proj):
    n = _many_files(proj)
    code, screen = in_pty(proj, "--sync-to-s3", "--verbose", env={"NO_COLOR": "1"})
    assert code == 0, screen
    assert plain(screen).count("upload: ") == n and not COLOUR.search(screen)


def test_sync_without_a_terminal_is_a_summary_not_a_line_per_file(proj):
    n = _many_files(proj)
    r = proj.deploy("--sync-to-s3")
    assert r.returncode == 0, r.stderr
    assert "upload: " not in r.stderr and "\x1b" not in r.stderr + r.stdout and "\r" not in r.stderr
    assert len(r.stderr.splitlines()) <= 3, r.stderr  # the heading (and a periodic line on a slow machine)
    assert r.stdout.startswith(f"uploaded {n} (")
    (proj.path / "experiments" / "d0" / "f0.txt").unlink()
    r = proj.deploy("--sync-to-s3", "--delete", "--verbose")
    assert r.returncode == 0 and "delete: s3://views-bucket/experiments/d0/f0.txt" in r.stderr, r.stderr


def test_sync_quiet_on_a_terminal_prints_the_summary_only(proj):
    _many_files(proj, 10)
    code, screen = in_pty(proj, "-q", "--sync-to-s3")
    assert code == 0, screen
    assert "\x1b[" not in screen and "files" not in screen and screen.strip().startswith("uploaded 10 (")
