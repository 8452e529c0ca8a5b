"""Patterns the house bans, checked over the tree (asdf's banned_commands, in pytest)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


SCRATCH = ROOT / "bench" / "work"  # the bench's git-ignored scratch (copies of examples while it runs)


def sources(folder, pattern):
    return [p for p in (ROOT / folder).rglob(pattern) if ".venv" not in p.parts and SCRATCH not in p.parents]


CLIENT_MAKERS = re.compile(r"boto3\.client\(|\bSession\(|\.create_client\(")


def test_only_the_aws_package_makes_clients_and_sessions():
    aws = ROOT / "batchdeploy" / "aws"
    # The launcher runs inside job images with only the standard library and botocore, so it cannot use
    # batchdeploy.aws (boto3, config): it makes its one S3 client itself, in this one module.
    launcher_s3 = ROOT / "batchdeploy" / "launch" / "s3.py"
    offenders = [
        str(p.relative_to(ROOT))
        for p in sources("batchdeploy", "*.py") + sources("scripts", "*.py") + sources("bench", "*.py")
        if CLIENT_MAKERS.search(p.read_text()) and aws not in p.parents and p != launcher_s3
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


# ---- the verb list is written once (cli.VERBS); the front doors are checked against it ----------

def _deploy_sh_cases() -> set[tuple[str, str]]:
    text = (ROOT / "deploy.sh").read_text()
    pairs = set()
    for flags, verb in re.findall(r"^\s*([-\w| ]+)\)\s*verb=([a-z0-9-]+)\s*;;", text, re.M):
        pairs |= {(flag.strip(), verb) for flag in flags.split("|")}
    return pairs


def _deploy_sh_usage() -> str:
    text = (ROOT / "deploy.sh").read_text()
    return text[text.index("usage() {") : text.index("\nEOF\n")]


def test_deploy_sh_case_maps_exactly_the_verbs_flags():
    from batchdeploy.cli import VERBS

    wanted = {(flag, name) for name, verb in VERBS.items() for flag in verb.flags}
    assert _deploy_sh_cases() == wanted


def test_deploy_sh_usage_names_every_verb():
    from batchdeploy.cli import VERBS

    usage = _deploy_sh_usage()
    missing = [verb.flags[0] for verb in VERBS.values() if not re.search(rf"(^|[\s|]){re.escape(verb.flags[0])}\b", usage, re.M)]
    assert missing == []


def test_make_help_lists_each_verbs_target_and_the_target_runs_that_verb():
    import subprocess

    from batchdeploy.cli import VERBS

    makefile = (ROOT / "Makefile").read_text()
    helped = subprocess.run(["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True, check=True).stdout
    for name, verb in VERBS.items():
        if verb.make is None:
            continue
        assert re.search(rf"^\s*make {re.escape(verb.make)}\s", helped, re.M), f"make help lacks {verb.make}"
        recipe = re.search(rf"^{re.escape(verb.make)}:.*\n((?:\t.*\n)+)", makefile, re.M)
        assert recipe, f"Makefile has no recipe for {verb.make}"
        called = re.findall(r"\$\(DEPLOY\) (\S+)", recipe.group(1))
        assert called and called[-1] in verb.flags, f"make {verb.make} runs {called}, not {name}"


def test_every_deploy_call_in_the_makefile_is_a_known_verb_flag():
    from batchdeploy.cli import VERBS

    flags = {flag for verb in VERBS.values() for flag in verb.flags}
    called = re.findall(r"\$\(DEPLOY\) (\S+)", (ROOT / "Makefile").read_text())
    assert called and set(called) <= flags


def test_cli_docstring_table_matches_verbs():
    import batchdeploy.cli as cli

    rows = re.findall(r"^    ([a-z0-9-]+)\s+(-\S+)\s+(batchdeploy[\w.]*)$", cli.__doc__, re.M)
    table = {verb: (flag, module) for verb, flag, module in rows}
    wanted = {name: (verb.flags[0], verb.target.partition(":")[0]) for name, verb in cli.VERBS.items()}
    assert table == wanted
