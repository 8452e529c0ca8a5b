"""Patterns the house bans, checked over the tree (asdf's banned_commands, in pytest)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sources(folder, pattern):
    return [p for p in (ROOT / folder).rglob(pattern) if ".venv" not in p.parts]


CLIENT_MAKERS = re.compile(r"boto3\.client\(|\bSession\(|\.create_client\(")


def test_only_the_aws_package_makes_clients_and_sessions():
    aws = ROOT / "batchdeploy" / "aws"
    offenders = [
        str(p.relative_to(ROOT))
        for p in sources("batchdeploy", "*.py") + sources("scripts", "*.py") + sources("bench", "*.py")
        if CLIENT_MAKERS.search(p.read_text()) and aws not in p.parents
    ]
    assert offenders == []


def test_tests_do_not_sleep_for_real():
    # Pollers take injected sleep/clock; fixtures that wait for a server to start live in conftest.
    offenders = [
        str(p.relative_to(ROOT))
        for p in sources("tests", "test_*.py")
        if re.search(r"\btime\.sleep\(", p.read_text())
    ]
    assert offenders == []


def test_no_eval_in_shell():
    shell = [ROOT / "deploy.sh", *sources("scripts", "*.sh"), *sources("bench", "*.sh")]
    offenders = [str(p.relative_to(ROOT)) for p in shell if p.exists() and re.search(r"^\s*eval\b|\beval ", p.read_text(), re.M)]
    assert offenders == []


def test_botocore_debug_logging_is_never_switched_on():
    offenders = [
        str(p.relative_to(ROOT))
        for p in sources("batchdeploy", "*.py")
        if re.search(r"set_stream_logger|logging\.DEBUG", p.read_text())
    ]
    assert offenders == []
