"""The executors: --dry-run shows the plan and changes nothing; the plan display is never on stdout."""

from __future__ import annotations

import io
import json

from batchdeploy.infra.execute import DisplayOnlyExecutor, Plan
from batchdeploy.infra.model import Action
from batchdeploy.ui import Output


def a_plan(report=None) -> Plan:
    actions = [Action("create", "job-queue", "demo-dev-job-queue", note="from job-queue.json")]
    return Plan("create", "demo-dev", "demo", "plan for prefix demo-dev (project demo):", actions,
                report=report or (lambda journal: 1))


def test_dry_run_text_puts_the_plan_on_stderr_and_never_reports_or_asks():
    out = Output(stdout=io.StringIO(), stderr=io.StringIO())
    assert DisplayOnlyExecutor(out).execute(a_plan(report=lambda journal: 1 / 0)) == 0
    assert out.stdout.getvalue() == ""
    lines = out.stderr.getvalue().splitlines()
    assert lines[0] == "plan for prefix demo-dev (project demo):"
    assert lines[1].startswith("  create   job queue            demo-dev-job-queue")


def test_dry_run_json_is_one_object_on_stdout():
    out = Output(fmt="json", stdout=io.StringIO(), stderr=io.StringIO())
    assert DisplayOnlyExecutor(out).execute(a_plan()) == 0
    data = json.loads(out.stdout.getvalue())
    assert data["dry_run"] is True and data["prefix"] == "demo-dev" and data["project"] == "demo"
    assert [a["op"] for a in data["plan"]] == ["create"]
    assert out.stderr.getvalue() == ""
