"""pegasus-aws-batch's files: the TASK STDERR split, the task record, the merge and its summary line,
the jobstate log, the exit code and the log file's rotation, with times injected. The Java-specific
formats (String.hashCode, HashMap order, Double.toString) are compared with what OpenJDK 17 printed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from batchdeploy.bags import logs
from batchdeploy.bags.logs import TASK_STDERR_SEPARATOR as SEP

PST = timezone(timedelta(hours=-8))
RECORD = logs.task_record(1, "findrange_ID0000002", "abc-123", "SUCCEEDED", "pegasus-aws-batch-launch.sh")


def test_the_separator_is_the_launchers():
    assert SEP == "########################[AWS BATCH] TASK STDERR ########################"


def test_the_task_record_as_awsjob_writes_it():
    assert RECORD == ('[cluster-task id=1, name="findrange_ID0000002", aws-job-id="abc-123", state=succeeded, '
                      'status=0, id=1, app="pegasus-aws-batch-launch.sh"]')
    assert logs.task_record(7, "t", None, "failed", "x").startswith('[cluster-task id=7, name="t", aws-job-id=null, '
                                                                      'state=failed, status=1, id=7,')
    with pytest.raises(ValueError):
        logs.task_record(1, "t", "x", "DONE", "x")


def test_a_launcher_stream_splits_at_the_marker_and_the_record_takes_its_place():
    events = ["hello", "world", SEP, "2026-11-30 18:00:00: task stderr set to file t.err", "oops",
              "PegasusAWSBatchLaunch: exitcode 0", SEP]  # a second marker is just stderr
    out, err = logs.split_task_log(events, RECORD)
    assert out == ["hello", "world", RECORD]
    assert err == ["2026-11-30 18:00:00: task stderr set to file t.err", "oops", "PegasusAWSBatchLaunch: exitcode 0", SEP]
    assert logs.task_files(events, RECORD) == ("hello\nworld\n" + RECORD + "\n", "\n".join(err) + "\n")


def test_output_without_a_newline_before_the_marker_still_splits():
    out, err = logs.split_task_log(["partial" + SEP, "e"], RECORD)
    assert (out, err) == (["partial", RECORD], ["e"])


def test_a_stream_without_the_marker_keeps_everything_in_out_and_still_gets_its_record():
    assert logs.split_task_log(["a", "b"], RECORD) == (["a", "b", RECORD], [])
    assert logs.task_files([], RECORD) == (RECORD + "\n", "")


def test_file_and_stream_names():
    assert (logs.out_name("t1"), logs.err_name("t1")) == ("t1.out", "t1.err")
    assert logs.log_stream_name("arn:aws:batch:us-west-2:1:job-definition/karan-batch-synch-test-job-definition:5",
                                "arn:aws:ecs:us-west-2:1:task/5f659be6-4ca5-4150-bc44-dacbcb63b696") == \
        "karan-batch-synch-test-job-definition/default/5f659be6-4ca5-4150-bc44-dacbcb63b696"
    assert logs.LOG_GROUP == "/aws/batch/job"


def test_java_string_hash_and_hashmap_order_as_openjdk():
    assert [logs.java_string_hash(s) for s in ("hello", "Aa", "BB", "polygenelubricants", "héllo", "日本")] == \
        [99162322, 2112, 2112, -2147483648, 103094734, 835047]
    assert logs.java_hashmap_order([f"job{i}" for i in range(1, 6)]) == ["job2", "job1", "job4", "job3", "job5"]
    forty = [f"findrange_ID00000{i:02d}" for i in range(40)]  # 40 names: the table grows to 64
    java = ("01,23,00,22,21,20,05,27,04,26,03,25,02,24,19,18,17,39,30,12,34,11,33,10,32,31,16,38,15,37,14,36,13,35,"
            "09,08,07,29,06,28").split(",")
    assert logs.java_hashmap_order(forty) == [f"findrange_ID00000{n}" for n in java]


def test_merge_in_the_given_order_with_the_summary_last():
    out, err = logs.merge([("a1\n", "e1\n"), (None, "e2\n"), ("a3\n", None)], "[cluster-summary x]")
    assert (out, err) == ("a1\na3\n[cluster-summary x]\n", "e1\ne2\n")


def test_merge_files_writes_the_two_files_and_deletes_the_tasks(tmp_path: Path):
    for name, out, err in (("t2", "o2\n", "e2\n"), ("t1", "o1\n", "")):
        (tmp_path / f"{name}.out").write_text(out)
        (tmp_path / f"{name}.err").write_text(err)
    (tmp_path / "P.out").write_text("stale from a previous run\n")
    paths = logs.merge_files(["t1", "t2", "t3"], tmp_path, "P", "[cluster-summary s]")
    assert paths == (tmp_path / "P.out", tmp_path / "P.err")
    assert (tmp_path / "P.out").read_text() == "o1\no2\n[cluster-summary s]\n"
    assert (tmp_path / "P.err").read_text() == "e2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["P.err", "P.out"]


@pytest.mark.parametrize("value, java", [
    (31.174, "31.174"), (12.0, "12.0"), (0.0, "0.0"), (0.0005, "5.0E-4"), (1e7, "1.0E7"),
    (12345678.9, "1.23456789E7"), (1234.5, "1234.5"), (0.1 + 0.2, "0.30000000000000004"), (0.002, "0.002"),
    (123456.789, "123456.789"),
])
def test_java_double_as_openjdk_prints_it(value, java):
    assert logs.java_double(value) == java


def test_the_cluster_summary_line_of_the_newest_source():
    start = datetime(2018, 1, 19, 6, 42, 46, 879000, tzinfo=PST)
    end = start + timedelta(seconds=31.174)
    assert logs.cluster_summary(3, 3, 0, start, end) == (
        '[cluster-summary tasks=3, succeeded=3, failed=0, duration=31.174, start="2018-01-19T06:42:46-08:00", '
        'app="pegasus-aws-batch"]')
    assert logs.cluster_summary(None, None, None, start, start + timedelta(seconds=2)) == (
        '[cluster-summary duration=2.0, start="2018-01-19T06:42:46-08:00", app="pegasus-aws-batch"]')
    ist = timezone(timedelta(hours=5, minutes=30))
    assert 'start="2026-11-30T23:38:00+05:30"' in logs.cluster_summary(1, 0, 1, datetime(2026, 11, 30, 23, 38, tzinfo=ist),
                                                                        datetime(2026, 11, 30, 23, 39, tzinfo=ist))
    # One instant in three zones, as pegasus's Currently.iso8601 printed it under TZ= (UTC is +00:00, not Z):
    instant = datetime.fromtimestamp(1516372966.879, timezone.utc)
    assert [logs.iso8601_local(instant.astimezone(timezone(timedelta(minutes=m)))) for m in (-480, 330, 0)] == \
        ["2018-01-19T06:42:46-08:00", "2018-01-19T20:12:46+05:30", "2018-01-19T14:42:46+00:00"]
    with pytest.raises(ValueError):
        logs.iso8601_local(datetime(2026, 1, 1))  # a naive time has no zone to print
    assert logs.cluster_summary_log_line(3, 2, 1) == \
        "[cluster-summary tasks=3, succeeded=2, failed=1, app=pegasus-aws-batch]"


def test_jobstate_lines_as_the_writer_writes_them(tmp_path):
    assert logs.jobstate_path(tmp_path, "merge_ID1") == tmp_path / "merge_ID1.jobstate.log"
    assert logs.jobstate_line(1516372966879, "findrange_ID0000002", "submitted", "abc") == \
        "1516372966879 findrange_ID0000002 SUBMITTED abc"
    assert logs.jobstate_line(1, "t", "RUNNABLE", None) == "1 t RUNNABLE null"  # AWS's status, as AWS spells it
    with pytest.raises(ValueError):
        logs.jobstate_line(1, "t", "DONE", "x")


@pytest.mark.parametrize("total, ok, failed, error, code", [
    (3, 3, 0, False, 0), (3, 2, 1, False, 1), (3, 0, 3, False, 1),
    (3, 2, 1, True, 2),  # an internal error wins over a failed task
    (3, 2, 0, False, 2),  # a task unaccounted for is not a success
    (0, 0, 0, False, 0),
])
def test_exit_code(total, ok, failed, error, code):
    assert logs.exit_code(total, ok, failed, error) == code


def test_the_log_file_rotates_as_pegasus_does(tmp_path):
    log = tmp_path / "merge_ID1.log"
    assert logs.rotated_log_path(log) == tmp_path / "merge_ID1.log.000"
    (tmp_path / "merge_ID1.log.000").write_text("")
    assert logs.rotated_log_path(log) == tmp_path / "merge_ID1.log.001"
    assert logs.rotated_log_path(log, exists=lambda p: True) == tmp_path / "merge_ID1.log.999"
