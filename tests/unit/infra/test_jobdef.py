"""A job definition file, checked and tagged as update-jobs does it."""

from __future__ import annotations

import json

from batchdeploy import config
from batchdeploy.aws.tags import TAG_HASH
from batchdeploy.infra import jobdef
from batchdeploy.jobdef.compare import content_hash


def test_job_definitions_are_checked_and_tagged_the_way_update_jobs_does_it(tmp_path):
    (tmp_path / ".aws_env").write_text("PROJECT_NAME=demo\n")
    cfg = config.load(environ={}, cwd=tmp_path)

    def request_for(doc):  # a file of project demo, prefix demo-dev
        (tmp_path / "jd.json").write_text(json.dumps(doc))
        return jobdef.jobdef_request(cfg, tmp_path / "jd.json", "jd.json", "demo-dev", "1.0", "VERSION")

    doc = {
        "type": "container",
        "containerProperties": {"image": "busybox"},
        "tags": {"batchdeploy:mine": "x"},
    }
    request, problems, _ = request_for(doc)
    assert request is None
    assert any("VCPU is required" in p for p in problems)
    assert any("batchdeploy:mine" in p for p in problems)
    good = {
        "type": "container",
        "containerProperties": {
            "image": "busybox",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
        "tags": {"team": "ml"},
    }
    request, problems, _ = request_for(good)
    assert problems == []
    assert request["jobDefinitionName"] == "demo-dev-job-definition"
    tags = request["tags"]
    assert (
        tags["team"] == "ml"
        and tags["batchdeploy:project"] == "demo"
        and tags["batchdeploy:prefix"] == "demo-dev"
    )
    assert tags[TAG_HASH] == content_hash(request)


def test_the_prefix_tag_counts_towards_the_tag_limit(tmp_path):
    (tmp_path / ".aws_env").write_text("PROJECT_NAME=demo\n")
    cfg = config.load(environ={}, cwd=tmp_path)
    doc = {
        "type": "container",
        "containerProperties": {
            "image": "busybox",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
        "tags": {f"t{i}": "x" for i in range(48)},  # -u's check allows 48 beside its project and hash tags
    }
    (tmp_path / "jd.json").write_text(json.dumps(doc))
    request, problems, _ = jobdef.jobdef_request(cfg, tmp_path / "jd.json", "jd.json", "p", "1.0", "VERSION")
    assert request is None
    assert problems == ["jd.json: tags: with batchdeploy's prefix tag, above AWS's limit of 50"]
