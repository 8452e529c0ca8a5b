"""`report` and `--status` over runs on the local stack, where a sweep really runs: a 2x2 grid whose tasks
write metrics.json and metrics.jsonl into their own outputs, one failing; the report opened in a real
headless browser (no network) shows the table, each plot and the failure, with no script error;
`--status --output json` matches docs/status.schema.json; a second clone of the project (another folder,
the same bucket) lists the run the first one submitted."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from batchdeploy import runs
from tests.browser import open_page
from tests.conftest import ROOT, Project
from tests.run_support import inprocess

from .test_launch_stack import launcher_image  # noqa: F401 - the module's image with the launcher
from .test_local_stack import Batch, unique
from .test_sweep_stack import definition, use_project

pytestmark = [pytest.mark.engine, pytest.mark.e2e]

# A loss curve per task into metrics.jsonl, its end into metrics.json; lr=0.3 fails after its curve.
TRAIN = ("import json, os, sys; lr, seed = float(sys.argv[1]), int(sys.argv[2]); "
         "out = os.environ['BATCHDEPLOY_OUTPUT_DIR']; os.makedirs(out, exist_ok=True); "
         "losses = [1.0 / (1 + lr * seed * e) for e in range(30)]; "
         "open(out + 'metrics.jsonl', 'w').write(''.join(json.dumps({'epoch': e, 'loss': l}) + chr(10) "
         "for e, l in enumerate(losses))); "
         "lr == 0.3 and seed == 2 and sys.exit('diverged: loss is nan at epoch 30'); "
         "json.dump({'final_loss': losses[-1], 'epochs': 30}, open(out + 'metrics.json', 'w'))")
SCHEMA = json.loads((ROOT / "docs" / "status.schema.json").read_text())


@pytest.fixture(scope="module")
def batch(local_stack):
    return Batch(local_stack)


def test_a_sweeps_report_opens_in_a_browser_and_status_lists_it_from_another_clone(
        batch, launcher_image, project, monkeypatch, tmp_path):  # noqa: F811
    name = unique("report")
    jd = definition(batch, launcher_image, name, TRAIN)
    use_project(batch, project, monkeypatch, name, jd["jobDefinitionArn"])
    code, out, err = inprocess(["run", "fit", "--grid", "lr=0.1,0.3", "seed=1,2", "--wait"])
    assert code == 3, out + err
    run_id = runs.RUN_ID.search(out).group(0)

    page = tmp_path / "report.html"
    code, out, err = inprocess(["report", run_id, "--out", str(page)])
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == ["TASK", "LR", "SEED", "STATE", "FINAL_LOSS"]  # epochs: the same in every task
    assert [line.split()[:4] for line in lines[1:5]] == [
        ["1", "0.1", "1", "SUCCEEDED"], ["2", "0.1", "2", "SUCCEEDED"], ["3", "0.3", "1", "SUCCEEDED"],
        ["4", "0.3", "2", "FAILED"]]
    assert lines[-1] == f"report: {page}"
    html = page.read_text()
    # nothing to fetch: the only URL in the page is SVG's namespace, which is a name, not a request
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) == {"http://www.w3.org/2000/svg"}

    opened = open_page(page, tmp_path / "browser")
    dom = opened.dom
    assert opened.screenshot.stat().st_size > 20_000  # a page was drawn, not a blank one
    assert 'data-js="ok"' in dom and 'id="script-error"' not in dom and opened.console_errors == []
    table = re.search(r'<table class="sortable" id="tasks">.*?</table>', dom, re.S).group(0)
    assert table.count("<tr>") == 1 + 4 and "<th>lr</th><th>seed</th>" in table and "<th>final_loss</th>" in table
    assert dom.count('data-plot="scatter"') == 2 + 2  # final_loss by lr and by seed; memory, CPU
    assert "The same in every task: epochs = 30." in dom
    assert dom.count('data-plot="lines"') == 1 and dom.count('data-plot="timeline"') == 1
    assert "diverged: loss is nan at epoch 30" in re.search(r'<ul id="failures">.*?</ul>', dom, re.S).group(0)
    assert len(re.findall(r"<polyline ", dom)) == 4  # every task's curve, the failed one's too
    timeline = re.search(r'<svg[^>]*data-plot="timeline".*?</svg>', dom, re.S).group(0)
    assert len(re.findall(r"peak [0-9.]+ MiB, CPU [0-9.]+ s", timeline)) == 4

    code, out, err = inprocess(["status", "--output", "json"])
    assert code == 0, err
    rows = json.loads(out)
    jsonschema.validate(rows, SCHEMA)
    mine = [r for r in rows if r["run_id"] == run_id]
    assert len(mine) == 1 and mine[0]["kind"] == "sweep" and mine[0]["children"] == {"FAILED": 1, "SUCCEEDED": 3}
    assert mine[0]["state"] == "FAILED" and isinstance(mine[0]["duration_s"], int)

    other = Project(tmp_path / "other clone")  # another folder: no jobs.jsonl, the same bucket
    other.env_file(PROJECT_NAME="demo", AWS_JOB_QUEUE=batch.queue.rsplit("/", 1)[1], S3_BUCKET=batch.bucket)
    assert not (other.path / ".batchdeploy").exists()
    r = other.run("status", "--output", "json", "--state", "failed", "--since", "1h")
    assert r.returncode == 0, r.stderr
    jsonschema.validate(json.loads(r.stdout), SCHEMA)
    assert run_id in [row["run_id"] for row in json.loads(r.stdout)]
    r = other.deploy("--status", "--run", run_id)
    assert r.returncode == 0 and r.stdout.splitlines()[1].split()[:2] == [run_id, mine[0]["job_id"]], r.stdout + r.stderr
    r = other.deploy("--report", run_id, "--out", str(tmp_path / "other.html"))
    assert r.returncode == 0 and (tmp_path / "other.html").read_text() != "", r.stderr
