"""The pegasus manual's own files and commands (seeds 003 and 004), verbatim, through the pure layer:
the command line, the properties, the resource plan and the submit file."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchdeploy import errors
from batchdeploy.bags import names, pegasus_cli, properties, submitfile
from batchdeploy.errors import ConfigError

SEED = Path(__file__).parent / "pegasus_seed"
# Seed 004, "Run the command pegasus-aws-batch", verbatim.
CREATE = ("--conf ./conf/pegasusrc --prefix pegasus-awsbatch-example --create --compute-environment "
          "./conf/sample-compute-env.json --job-definition ./conf/sample-job-definition.json "
          "--job-queue ./conf/sample-job-queue.json")


def plan_of(command: str) -> names.Plan:
    opts = pegasus_cli.parse(command.split())
    return names.plan(properties.settings(opts, properties.load(opts.conf, None, SEED, {})), SEED)


def test_the_seeds_create_command_plans_what_its_log_shows():
    p = plan_of(CREATE)
    assert [(s.action, s.ref.kind, s.ref.name, s.ref.path.name) for s in p.setup] == [
        ("create", "job_definition", "pegasus-awsbatch-example-job-definition", "sample-job-definition.json"),
        ("create", "compute_environment", "pegasus-awsbatch-example-compute-env", "sample-compute-env.json"),
        ("create", "job_queue", "pegasus-awsbatch-example-job-queue", "sample-job-queue.json"),
    ]
    assert p.teardown == ()  # --create keeps what it made
    # The ARNs in the seed's log (its account masked as XXXXXXXXXX there), for the names planned:
    ce, queue = p.setup[1].ref.name, p.setup[2].ref.name
    assert names.default_arn("compute_environment", ce, "us-west-2", "XXXXXXXXXX") == \
        "arn:aws:batch:us-west-2:XXXXXXXXXX:compute-environment/pegasus-awsbatch-example-compute-env"
    assert names.default_arn("job_queue", queue, "us-west-2", "XXXXXXXXXX") == \
        "arn:aws:batch:us-west-2:XXXXXXXXXX:job-queue/pegasus-awsbatch-example-job-queue"


def test_a_run_with_the_seeds_files_creates_a_queue_and_bucket_and_deletes_all_it_made():
    p = plan_of("-C conf/pegasusrc -p pegasus-awsbatch-example -j conf/sample-job-definition.json "
                "--ce conf/sample-compute-env.json -m merged merge_diamond-findrange-4_0_PID2_ID1.in")
    assert p.describe()[2:] == [
        "create job queue pegasus-awsbatch-example-job-queue",
        "create s3 bucket pegasus-awsbatch-example-bucket (if-missing)",
        "delete job queue pegasus-awsbatch-example-job-queue",
        "delete compute environment pegasus-awsbatch-example-compute-env (if-queue-deleted)",
        "delete job definition pegasus-awsbatch-example-job-definition",
        "delete s3 bucket pegasus-awsbatch-example-bucket (if-created)",
    ]


def test_the_seeds_submit_file_verbatim_is_refused_where_its_inputs_are_missing():
    """Its TRANSFER_INPUT_FILES are on the manual author's /scitech; pegasus would fail at upload time,
    after creating everything; here nothing is created, and every missing file is named at once."""
    with pytest.raises(ConfigError) as e:
        submitfile.load([SEED / "merge_diamond-findrange-4_0_PID2_ID1.in"], SEED)
    line = e.value.line()
    assert e.value.exit_code == errors.USAGE and "\n" not in line
    assert "merge_diamond-findrange-4_0_PID2_ID1.in task 1: TRANSFER_INPUT_FILES names " \
           "/scitech/input/pegasus-worker-4.9.0dev-x86_64_rhel_7.tar.gz, which is missing" in line
    assert "task 2: TRANSFER_INPUT_FILES names /scitech/input/00/00/findrange_ID0000003.sh, which is missing" in line


def test_the_manuals_synopsis_levels_are_taken():
    for level in ("error", "warn", "info", "debug", "trace"):  # [-L <error, warn, info, debug, trace>]
        assert pegasus_cli.parse(["-L", level, "x.in"]).log_level == level.upper()
