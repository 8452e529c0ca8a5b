"""Names: prefixes, default names, references, ECR repositories, S3 bucket names."""

from __future__ import annotations

import pytest

from batchdeploy.aws import s3
from batchdeploy.infra import model

# --- names -----------------------------------------------------------------------------------


def test_default_names_come_from_the_prefix_and_the_bucket_is_lowercase():
    assert model.default_name("job-queue", "Demo_Dev") == "Demo_Dev-job-queue"
    assert model.default_name("bucket", "Demo_Dev") == "demo-dev-bucket"
    assert model.default_prefix("demo", "development") == "demo-development"


@pytest.mark.parametrize(
    "name, ok",
    [
        ("demo-dev-bucket", True),
        ("ab", False),
        ("a" * 64, False),
        ("my..bucket", False),
        ("192.168.1.1", False),
        ("xn--abc", False),
        ("abc-s3alias", False),
        ("Upper", False),
        ("-dash", False),
    ],
)
def test_bucket_names_follow_s3s_rules(name, ok):
    assert (s3.bucket_problems(name) == []) is ok


def test_name_from_ref_understands_arns_and_revisions():
    arn = "arn:aws:batch:us-east-1:123456789012:job-queue/q1"
    assert model.name_from_ref("job-queue", arn) == "q1"
    assert model.name_from_ref("job-definition", "jd:3") == "jd"
    assert model.name_from_ref("job-definition", "arn:aws:batch:us-east-1:1:job-definition/jd:3") == "jd"


def test_repositories_only_for_an_ecr_registry():
    ecr = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
    assert model.repository_names(ecr, None, "demo") == ["demo"]
    assert model.repository_names(ecr, "app=. worker=worker", "demo") == ["app", "worker"]
    assert model.repository_names(ecr + "/team", "app=.", "demo") == ["team/app"]
    assert model.repository_names("127.0.0.1:5000", "app=.", "demo") == []
    assert model.repository_names(None, "app=.", "demo") == []
