"""examples/triage-package's pure parts: deps.py (what the image's build stage installs beside triage:
no torch) and experiment/triage_job.py (triage's command line with a failed run's exit code)."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "triage-package"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


deps = load("triage_package_deps", EXAMPLE / "deps.py")
job = load("triage_package_job", EXAMPLE / "experiment" / "triage_job.py")


def test_torch_and_aequitas_are_left_out_and_extras_dropped():
    got = deps.needed({
        "triage": ["numpy==1.26.0", "aequitas==1.0.0", "psycopg2-binary==2.9.3", "rq==1.4.3; extra == \"rq\""],
        "aequitas": ["pandas>=2.0.3", "torch>=2.4.0", "numpy>=1.24.4", "Torch>=1", "flask; extra == \"webapp\""],
    })
    assert got == ["numpy==1.26.0", "psycopg2-binary==2.9.3", "pandas>=2.0.3"]


def test_a_distribution_without_requirements():
    assert deps.needed({"triage": None, "aequitas": ["scipy>=1.10.1"]}) == ["scipy>=1.10.1"]


def record(name: str, level: int, exc: bool) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise FileNotFoundError("x")
        except FileNotFoundError:
            info = sys.exc_info()
    return logging.LogRecord(name, level, __file__, 1, "Something went wrong", None, info)


def test_only_the_clis_logged_exceptions_count_as_failures():
    failures = job.Failures()
    for rec in (record("triage.cli", logging.ERROR, False),          # an error line without an exception
                record("triage.component", logging.ERROR, True),     # another logger's
                record("triage.cli", logging.INFO, False)):
        failures.handle(rec)
    assert failures.count == 0
    failures.handle(record("triage.cli", logging.ERROR, True))      # logger.exception in the CLI
    assert failures.count == 1


def test_a_local_experiment_file_is_made_absolute():
    assert job.absolute_config(["experiment", "experiment.yaml", "--replace"]) == [
        "experiment", os.path.join(os.getcwd(), "experiment.yaml"), "--replace"]
    assert job.absolute_config(["experiment", "s3://b/e.yaml"]) == ["experiment", "s3://b/e.yaml"]
    assert job.absolute_config(["experiment", "--help"]) == ["experiment", "--help"]
    assert job.absolute_config(["audition", "a.yaml"]) == ["audition", "a.yaml"]


def test_the_database_password_is_replaced_in_every_log_record():
    secrets = job.url_secrets("postgresql://batchdeploy:p%40ss%2Fw0rd@127.0.0.1:5432/batchdeploy")
    assert secrets == ["p%40ss%2Fw0rd", "p@ss/w0rd"]
    make = job.redacting(secrets)
    url = "postgresql://batchdeploy:p%40ss%2Fw0rd@127.0.0.1:5432/batchdeploy"
    rec = make("triage.cli", logging.INFO, __file__, 1, "Results will be stored in DB: %s", (url,), None)
    assert rec.getMessage() == "Results will be stored in DB: postgresql://batchdeploy:***@127.0.0.1:5432/batchdeploy"
    rec = make("x", logging.INFO, __file__, 1, "plain p@ss/w0rd", None, None)
    assert rec.getMessage() == "plain ***"
    rec = make("x", logging.INFO, __file__, 1, "nothing secret %d", (3,), None)
    assert (rec.msg, rec.args) == ("nothing secret %d", (3,))
    assert job.url_secrets("postgresql://u@h/db") == [] and job.url_secrets(None) == []


def test_the_metadata_address_is_not_asked_when_botocores_switch_says_so():
    import types

    assert not job.metadata_allowed({"AWS_EC2_METADATA_DISABLED": "true"})
    assert not job.metadata_allowed({"AWS_EC2_METADATA_DISABLED": " TRUE "})
    assert job.metadata_allowed({}) and job.metadata_allowed({"AWS_EC2_METADATA_DISABLED": "false"})

    def asks():
        raise AssertionError("asked 169.254.169.254")

    tracking = types.SimpleNamespace(infer_ec2_instance_type=asks)
    predictlist = types.SimpleNamespace(infer_ec2_instance_type=asks)
    other = types.SimpleNamespace(infer_ec2_instance_type=asks)
    modules = {"triage.tracking": tracking, "triage.predictlist": predictlist, "requests": other}
    assert job.no_instance_metadata(modules) == ["triage.tracking", "triage.predictlist"]
    assert tracking.infer_ec2_instance_type() is None and predictlist.infer_ec2_instance_type() is None
    assert other.infer_ec2_instance_type is asks  # not triage's: left alone
