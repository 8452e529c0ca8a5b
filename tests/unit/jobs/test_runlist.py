"""--status rows: typed values, array durations, failure reasons, --since/--state parsing."""

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from batchdeploy.errors import UsageError
from batchdeploy.jobs import runlist

SCHEMA = json.loads((Path(__file__).parents[3] / "docs" / "status.schema.json").read_text())
NOW = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.timezone.utc)
T = 1796076000000  # 2026-11-30T22:00:00Z in ms

RUN = {"run_id": "20261130T215900Z-abc123", "name": "exp", "created_at": "2026-11-30T21:59:00Z", "state": "submitted",
       "job_ids": ["p"], "who": {"arn": "arn:aws:iam::1:user/ana"}, "git": {"commit": "f" * 40, "dirty": False},
       "job_definition": {"name": "jd", "revision": 3}, "parameters": {"lr": "0.1"}, "array_size": 3}


def test_an_array_parent_with_startedAt_0_is_not_57_years():
    parent = {"jobId": "p", "status": "SUCCEEDED", "createdAt": T, "startedAt": 0, "stoppedAt": T + 41_000,
              "arrayProperties": {"size": 3, "statusSummary": {"SUCCEEDED": 3}}}
    row = runlist.run_row(RUN, [parent])
    assert row["started_at"] == "2026-11-30T22:00:00Z" and row["stopped_at"] == "2026-11-30T22:00:41Z"
    assert row["duration_s"] == 41 and row["kind"] == "array" and row["children"] == {"SUCCEEDED": 3}
    jsonschema.validate([row], SCHEMA)


def test_an_unfinished_array_without_a_start_has_no_duration():
    parent = {"jobId": "p", "status": "RUNNING", "createdAt": T, "arrayProperties": {"size": 3}}
    row = runlist.run_row(RUN, [parent])
    assert (row["started_at"], row["stopped_at"], row["duration_s"]) == (None, None, None)
    jsonschema.validate([row], SCHEMA)


def test_a_failed_job_says_why_with_its_exit_code_and_typed_values():
    job = {"jobId": "p", "status": "FAILED", "createdAt": T, "startedAt": T + 5000, "stoppedAt": T + 65_000,
           "statusReason": "Essential container in task exited",
           "container": {"exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}}
    row = runlist.run_row({**RUN, "array_size": None}, [job])
    assert row["reason"] == ("Essential container in task exited; OutOfMemoryError: Container killed due to "
                             "memory usage; exit code 137")
    assert row["exit_code"] == 137 and row["duration_s"] == 60 and row["kind"] == "job"
    assert row["who"] == "arn:aws:iam::1:user/ana" and row["job_definition"] == "jd:3"
    jsonschema.validate([row], SCHEMA)
    shown = runlist.text_rows([row])[0]
    assert shown["took"] == "1m00s" and shown["exit"] == "137"


def test_a_run_whose_submit_was_interrupted_and_one_refused():
    assert runlist.run_row({**RUN, "state": "submitting", "job_ids": []}, [])["state"] == "submitting"
    refused = runlist.run_row({**RUN, "state": "submit-failed", "job_ids": [], "submitted": {"error": "no queue"}}, [])
    assert refused["state"] == "submit-failed" and refused["reason"] == "no queue"
    jsonschema.validate([refused], SCHEMA)


def test_a_sweeps_jobs_together_take_the_least_finished_state():
    a = {"jobId": "a", "status": "SUCCEEDED", "startedAt": T, "stoppedAt": T + 10_000}
    b = {"jobId": "b", "status": "RUNNING", "startedAt": T + 2000}
    row = runlist.run_row({**RUN, "sweep": {}, "job_ids": ["a", "b"]}, [a, b])
    assert row["state"] == "RUNNING" and row["stopped_at"] is None and row["kind"] == "sweep"


def test_the_schema_refuses_display_strings():
    row = runlist.run_row(RUN, [])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{**row, "duration_s": "41s"}], SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{**row, "created_at": "2026-11-30 21:59:00"}], SCHEMA)


@pytest.mark.parametrize("text, expected", [
    ("90m", NOW - dt.timedelta(minutes=90)), ("2d", NOW - dt.timedelta(days=2)), ("1h30m", NOW - dt.timedelta(minutes=90)),
    ("2026-11-30", dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)),
    ("2026-11-30T12:00:00Z", dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)),
])
def test_since(text, expected):
    assert runlist.parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "5x", "-3d"])
def test_since_refuses_what_it_cannot_read(text):
    with pytest.raises(UsageError, match="not a duration or a date"):
        runlist.parse_since(text, NOW)


def test_state_names_match_any_case_and_others_are_refused():
    assert runlist.parse_state("failed") == "FAILED" and runlist.parse_state("SUBMIT-FAILED") == "submit-failed"
    with pytest.raises(UsageError, match="not a state"):
        runlist.parse_state("DONE")


def test_an_array_parent_left_SUBMITTED_with_every_child_ended_takes_its_childrens_times():
    parent = {"jobId": "p", "status": "SUBMITTED", "createdAt": T,
              "arrayProperties": {"size": 2, "statusSummary": {"SUCCEEDED": 1, "FAILED": 1, "RUNNING": 0}}}
    assert runlist.status_of(parent) == "FAILED" and runlist.needs_child_times(parent)
    children = [{"jobId": "p:0", "startedAt": T + 2000, "stoppedAt": T + 30_000},
                {"jobId": "p:1", "startedAt": T + 1000, "stoppedAt": T + 20_000}]
    row = runlist.run_row(RUN, [runlist.with_child_times(parent, children)])
    assert (row["state"], row["started_at"], row["duration_s"]) == ("FAILED", "2026-11-30T22:00:01Z", 29)
    assert row["reason"] == "1 of 2 children failed (each one's reason: --status RUN_ID)"
    big = {**parent, "arrayProperties": {"size": 500, "statusSummary": {"SUCCEEDED": 500}}}
    assert runlist.status_of(big) == "SUCCEEDED" and not runlist.needs_child_times(big)
