"""pegasus-aws-batch's command line: the manual's own invocations and Pegasus WMS's read unchanged, and
every way pegasus is lenient or wrong is one line and exit 2."""

from __future__ import annotations

import pytest

from batchdeploy import errors
from batchdeploy.bags.pegasus_cli import PegasusOptions, help_text, parse
from batchdeploy.errors import UsageError

# Seed 004 (the pegasus example's README), verbatim.
SEED_CREATE = ("--conf ./conf/pegasusrc --prefix pegasus-awsbatch-example --create --compute-environment "
               "./conf/sample-compute-env.json --job-definition ./conf/sample-job-definition.json "
               "--job-queue ./conf/sample-job-queue.json")


def refused(argv: list[str]) -> str:
    with pytest.raises(UsageError) as e:
        parse(argv)
    assert e.value.exit_code == errors.USAGE
    assert "\n" not in e.value.line()
    return e.value.line()


def test_the_seeds_create_command_reads_as_pegasus_reads_it():
    opts = parse(SEED_CREATE.split())
    assert opts.mode == "create" and opts.submit_files == ()
    assert (opts.conf, opts.prefix) == ("./conf/pegasusrc", "pegasus-awsbatch-example")
    assert opts.compute_environment == "./conf/sample-compute-env.json"
    assert opts.job_definition == "./conf/sample-job-definition.json"
    assert opts.job_queue == "./conf/sample-job-queue.json"
    assert opts.log_level == "INFO" and not opts.delete


def test_pegasus_wms_own_invocation_reads():
    """What pegasus's planner (cluster/aggregator/AWSBatch.java) writes for a clustered job."""
    argv = ("--conf /sub/pegasus.123.properties --log-level debug --log-file /sub/merge_ID1.log "
            "--merge-logs /sub/merge_ID1 --prefix merge_ID1 --s3 s3://bkt/run0001 "
            "--files /creds/x509,/share/sh/pegasus-lite-common.sh, /sub/merge_ID1.in").split()
    opts = parse(argv)
    assert opts.mode == "run" and opts.submit_files == ("/sub/merge_ID1.in",)
    assert (opts.log_level, opts.log_file, opts.merge_logs) == ("DEBUG", "/sub/merge_ID1.log", "/sub/merge_ID1")
    assert opts.files == ("/creds/x509", "/share/sh/pegasus-lite-common.sh")  # the trailing comma dropped
    assert (opts.prefix, opts.s3) == ("merge_ID1", "s3://bkt/run0001")


@pytest.mark.parametrize("argv, field, value", [
    (["-pX", "-c"], "prefix", "X"),  # a short option's value attached
    (["--prefix=X", "-c"], "prefix", "X"),  # --opt=value
    (["--merge=P", "a.json"], "merge_logs", "P"),  # a unique abbreviation of a long option
    (["--comp", "ce.json", "-c"], "compute_environment", "ce.json"),
    (["--ce=ce.json", "-c"], "compute_environment", "ce.json"),
    (["-a", "123", "-r", "us-west-2", "-c"], "region", "us-west-2"),
    (["-L", "Trace", "a.json"], "log_level", "TRACE"),  # log4j's Level.toLevel: any case
    (["-L", "warn", "a.json"], "log_level", "WARN"),
    (["-j", "jd", "--job-queue", "q", "-s", "s3://b/k", "-d"], "job_queue", "q"),
    (["a.json", "-p", "x", "b.json"], "submit_files", ("a.json", "b.json")),  # options among the files
    (["-p", "x", "--", "-odd.json"], "submit_files", ("-odd.json",)),  # -- ends the options
])
def test_what_joptsimple_takes(argv, field, value):
    assert getattr(parse(argv), field) == value


def test_help_wins_and_lists_every_flag():
    assert parse(["-h"]) == PegasusOptions(help=True) and parse(["--help", "-c", "-d"]).mode == "help"
    text = help_text()
    for flag in ("-C", "--conf", "-L", "--log-level", "-l", "--log-file", "-m", "--merge-logs", "-a", "--account",
                 "-r", "--region", "-c", "--create", "-d", "--delete", "-p", "--prefix", "-j", "--job-definition",
                 "--ce", "--compute-environment", "-q", "--job-queue", "-s", "--s3", "-f", "--files"):
        assert f"{flag} " in text or f"{flag}," in text, flag


@pytest.mark.parametrize("argv, words", [
    ([], "specify the job submit file"),
    (["-p", "x"], "specify the job submit file"),
    (["-c", "a.json"], "-c/--create cannot be given with job submit files (a.json)"),
    (["-d", "a.json"], "-d/--delete cannot be given with job submit files (a.json)"),
    (["-c", "-d"], "-c/--create and -d/--delete cannot be given together"),
    (["-cd"], "-c/--create and -d/--delete cannot be given together"),
    (["-L", "warning", "a.json"], "-L/--log-level 'warning' is not a log level"),
    (["-p", "x", "-p", "y", "a.json"], "-p/--prefix given twice"),
    (["--prefix=", "a.json"], "-p/--prefix needs a value"),
    (["-r", "", "a.json"], "-r/--region needs a value"),
    (["-p"], "argument -p/--prefix: expected one argument"),
    (["--c", "x"], "ambiguous option: --c could match"),
    (["--bogus", "a.json"], "unrecognized arguments: --bogus"),
    (["-ce", "x", "a.json"], "-ce: a long option takes two dashes; write --ce"),
    (["-log-level", "debug", "a.json"], "write --log-level"),
])
def test_bad_command_lines_are_one_line_and_exit_2(argv, words):
    assert words in refused(argv)


def test_every_log_level_has_a_python_level_in_order():
    from batchdeploy.bags.pegasus_cli import LOG_LEVELS, PYTHON_LEVELS

    assert list(PYTHON_LEVELS) == list(LOG_LEVELS)
    assert sorted(PYTHON_LEVELS.values(), reverse=True) == list(PYTHON_LEVELS.values())
