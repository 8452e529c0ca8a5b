"""The credentials filter (jq bindings, checked against the jq CLI), durations, and the merge into overrides."""

from __future__ import annotations

import json
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from batchdeploy.errors import ConfigError
from batchdeploy.jobs import credentials_filter as credentials
from batchdeploy.jobs import projectfiles
from tests.conftest import ROOT

SECRET = "CANARY-secret-access-key-9f8e7d6c5b4a3928"
DOC = {
    "Credentials": {
        "AccessKeyId": "ASIACANARYKEYID0001",
        "SecretAccessKey": SECRET,
        "SessionToken": "CANARY-session-token-0123456789abcdef",
        "Expiration": "2030-01-01T00:00:00Z",
    }
}
EXAMPLE = ROOT / "credentials-filter.example"


def compiled(text):
    return credentials.compile_filter(text, "credentials-filter")


def test_the_built_in_filter_is_the_triage_filter_shipped_as_example():
    assert credentials.DEFAULT_FILTER == EXAMPLE.read_text()
    assert credentials.filter_text(projectfiles.Found(None, "credentials-filter", "none"))[0] == credentials.DEFAULT_FILTER


def test_the_triage_filter_makes_the_three_variables():
    env = credentials.reshape(compiled(EXAMPLE.read_text()), DOC, "credentials-filter")
    assert env == [
        {"name": "AWS_ACCESS_KEY_ID", "value": "ASIACANARYKEYID0001"},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": SECRET},
        {"name": "AWS_SESSION_TOKEN", "value": "CANARY-session-token-0123456789abcdef"},
    ]


@pytest.mark.skipif(shutil.which("jq") is None, reason="the jq CLI is not installed (make setup installs it)")
@pytest.mark.parametrize(
    "program",
    [
        EXAMPLE.read_text(),
        '{"environment": [.Credentials | to_entries[] | {name: ("X_" + .key), value: (.value | tostring)}]}',
        '.Credentials as $c | {"environment": [{"name": "K", "value": ($c.AccessKeyId | ascii_downcase)}]}',
        "[.Credentials[]] | length",
    ],
)
def test_the_bindings_give_what_the_jq_cli_gives(tmp_path, program):
    """Same program, same input: the input goes to the CLI on stdin and the program in a file, so no
    secret is ever on a command line."""
    (tmp_path / "filter.jq").write_text(program)
    done = subprocess.run(
        ["jq", "-c", "-f", str(tmp_path / "filter.jq")], input=json.dumps(DOC), capture_output=True, text=True,
        check=True,
    )
    cli = [json.loads(line) for line in done.stdout.splitlines()]
    assert credentials.evaluate(compiled(program), DOC) == cli


def test_a_filter_that_does_not_compile_is_one_line():
    with pytest.raises(ConfigError) as e:
        compiled("{environment: [.Credentials")
    assert "\n" not in e.value.line() and e.value.line().startswith("credentials-filter: jq: error: syntax error")


@pytest.mark.parametrize(
    "program, text",
    [
        ("empty", "yields 0 values"),
        (".,.", "yields 2 values"),
        ('{"env": []}', "yields no `environment` array"),
        ('{"environment": {}}', "yields no `environment` array"),
        ("[1]", "yields no `environment` array"),
        ('{"environment": [{"value": "x"}]}', "environment[0] has no name"),
        ('{"environment": [{"name": "A", "value": .Credentials.Nope}]}', "environment[0] (A) has a null value"),
        ('{"environment": [{"name": "A", "value": 1}]}', "environment[0] (A) has a int value"),
        ('{"environment": [{"name": "A", "value": "x", "type": "y"}]}', "has fields other than name and value"),
    ],
)
def test_what_the_filter_yields_is_checked(program, text):
    with pytest.raises(ConfigError) as e:
        credentials.reshape(compiled(program), DOC, "credentials-filter")
    assert text in e.value.line() and SECRET not in e.value.line()


def test_a_failing_filter_shows_jqs_message_about_a_stand_in_never_the_credentials():
    with pytest.raises(ConfigError) as e:
        credentials.reshape(compiled(".Credentials.SecretAccessKey + 1"), DOC, "credentials-filter")
    line = e.value.line()
    assert 'credentials-filter fails: string ("<Credentials.SecretAcces...") and number (1) cannot be added' in line
    assert "CANARY" not in line


def test_a_filter_failing_only_on_the_real_values_withholds_jqs_message():
    program = 'if (.Credentials.SecretAccessKey | startswith("<")) then 1 else error(.Credentials.SecretAccessKey) end'
    with pytest.raises(ConfigError) as e:
        credentials.reshape(compiled(program), DOC, "credentials-filter")
    assert "jq's message is withheld" in e.value.line() and "CANARY" not in e.value.line()
    assert e.value.__cause__ is None and e.value.__suppress_context__  # no chained message with the value either


def test_stand_in_keeps_the_shape_and_drops_every_string():
    assert credentials.stand_in({"a": ["x", {"b": "y", "n": 1}], "t": None}) == {
        "a": ["<a[0]>", {"b": "<a[1].b>", "n": 1}], "t": None
    }


@pytest.mark.parametrize(
    "configured, timeout, attempts, seconds, warned",
    [
        (None, 3600, 1, 5400, False),  # the timeout plus 30 minutes
        (None, 3600, 3, 12600, False),  # every attempt may run to the timeout
        (None, 60, 1, 1860, False),
        (None, 200, 1, 2000, False),
        (None, None, 1, 129_600, False),  # no timeout: the longest STS gives (triage's 36 h); describe warns
        (None, 129_000, 1, 129_600, True),  # capped at STS's maximum: no margin left for the queue
        (None, 7200, 20, 129_600, True),  # capped below the job's whole span
        ("900", 3600, 1, 900, True),
        ("129600", None, 1, 129_600, False),
    ],
)
def test_duration(configured, timeout, attempts, seconds, warned):
    got, why, warnings = credentials.duration(configured, timeout, attempts)
    assert got == seconds
    assert bool(warnings) is warned
    assert why


@pytest.mark.parametrize("configured", ["899", "129601", "abc", "-5"])
def test_duration_out_of_range_is_a_configuration_error(configured):
    with pytest.raises(ConfigError, match=f"CREDENTIALS_DURATION={configured} is out of range"):
        credentials.duration(configured, 3600, 1)


def test_merge_is_triages_environment_append_and_refuses_a_name_set_twice():
    overrides = {"environment": [{"name": "A", "value": "1"}], "vcpus": 2}
    creds = [{"name": "AWS_SESSION_TOKEN", "value": "t"}]
    assert credentials.merge(overrides, creds) == {
        "environment": [{"name": "A", "value": "1"}, {"name": "AWS_SESSION_TOKEN", "value": "t"}], "vcpus": 2
    }
    assert overrides["environment"] == [{"name": "A", "value": "1"}]
    assert credentials.merge({}, creds) == {"environment": creds}
    with pytest.raises(ConfigError, match="both set AWS_SESSION_TOKEN"):
        credentials.merge({"environment": [{"name": "AWS_SESSION_TOKEN", "value": "x"}]}, creds)


def test_temporary_means_a_session_token():
    assert credentials.is_temporary(SimpleNamespace(token="t"))
    assert not credentials.is_temporary(SimpleNamespace(token=None))


def test_obtained_credentials_never_show_in_repr():
    got = credentials.Obtained(DOC, "GetSessionToken", 900.0)
    assert SECRET not in repr(got) and SECRET not in str(got)


def test_human():
    assert [credentials.human(s) for s in (30, 60, 5400, 7200, 129600)] == ["30s", "1m", "1h30m", "2h", "36h"]


def test_no_timeout_warns_when_the_credentials_expire_and_a_timeout_does_not():
    seconds, why, warnings = credentials.duration(None, None, 1)
    got = credentials.Obtained({"Credentials": {"Expiration": "2026-12-02T09:00:00Z"}}, "GetSessionToken", float(seconds))
    told = credentials.describe(got, seconds, why, warnings)
    assert told[0] == ("note", "credentials: STS GetSessionToken for 36h (the job has no timeout; the longest STS allows)")
    assert [t for k, t in told if k == "warn"] == [
        "the job has no timeout: its credentials expire at 2026-12-02T09:00:00Z (36h, the longest STS gives); a longer "
        "experiment loses AWS access then: set a timeout (attemptDurationSeconds) or use --no-credentials and a jobRoleArn"]
    seconds, why, warnings = credentials.duration(None, 3600, 1)
    assert not [k for k, _ in credentials.describe(got, seconds, why, warnings) if k == "warn"]
