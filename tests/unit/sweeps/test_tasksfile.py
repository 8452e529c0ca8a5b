"""A dsub tasks file read into a Sweep: every rule, and every mistake as one line with its line and column."""

from __future__ import annotations

import os
import time

import pytest

from batchdeploy.errors import USAGE, UsageError
from batchdeploy.sweeps import tasksfile
from batchdeploy.sweeps.tasksfile import parse_range, parse_tasks, read_tasks_file


def tsv(*rows: str, end: str = "\n") -> bytes:
    return "".join(row + end for row in rows).encode()


def refused(data: bytes, task_range: str | None = None, **kw) -> str:
    with pytest.raises(UsageError) as caught:
        parse_tasks(data, "t.tsv", task_range, **kw)
    line = caught.value.line()
    assert "\n" not in line and caught.value.exit_code == USAGE == 2
    return line


GOOD = tsv(
    "--param seed\t--env MODE\tMODEL\t--label name\t--input DATA\t--input-recursive REFS\t--output M\t--output-recursive OUT",
    "1\tfast\tlin\tone\ts3://bkt/x/a.csv\ts3://bkt/refs\ts3://bkt/m/1.pt\ts3://bkt/out/1/",
    "2\tfast\tlin\ttwo\t\ts3://bkt/refs/\ts3://bkt/m/2.pt\ts3://bkt/out/2/",
    "\tfast\tlin\tthree\ts3://bkt/x/c.csv\ts3://bkt/refs/\t\ts3://bkt/out/3/",
)


def test_every_kind_of_column_becomes_the_launchers_form():
    sweep = parse_tasks(GOOD, "t.tsv")
    one, two, three = sweep.tasks
    assert [t.id for t in sweep.tasks] == [1, 2, 3] and [t.line for t in sweep.tasks] == [2, 3, 4]
    assert one.params == {"seed": "1"} and one.labels == {"name": "one"}
    assert one.env == {
        "MODE": "fast", "MODEL": "lin", "DATA": "inputs/DATA/a.csv", "REFS": "inputs/REFS/",
        "M": "outputs/M/1.pt", "OUT": "outputs/OUT/",
    }
    assert one.inputs == [{"from": "s3://bkt/x/a.csv", "to": "inputs/DATA/a.csv"},
                          {"from": "s3://bkt/refs/", "to": "inputs/REFS/"}]  # a recursive input is a prefix
    assert one.outputs == [{"from": "outputs/M/1.pt", "to": "s3://bkt/m/1.pt"},
                           {"from": "outputs/OUT/", "to": "s3://bkt/out/1/"}]
    assert two.env["DATA"] == "" and [i["to"] for i in two.inputs] == ["inputs/REFS/"]  # empty: no input
    assert three.params == {} and [o["from"] for o in three.outputs] == ["outputs/OUT/"]  # empty param: default
    assert sweep.varying == ["seed", "--label name", "--input DATA", "--output M", "--output-recursive OUT"]
    assert sweep.source["kind"] == "tasks" and sweep.source["range"] is None and len(sweep.source["sha256"]) == 64
    assert sweep.source["param_columns"] == {"seed": 1}


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbf--env A\r\n1\r\n2\r\n",  # a BOM and CRLF
    b"--env A\n1\n2",  # no last newline
])
def test_a_bom_crlf_and_a_missing_last_newline_are_tolerated(data):
    assert [t.env for t in parse_tasks(data).tasks] == [{"A": "1"}, {"A": "2"}]


@pytest.mark.parametrize("task_range, ids", [
    (None, [1, 2, 3, 4, 5]), ("", [1, 2, 3, 4, 5]), ("3", [3]), ("4-", [4, 5]), ("2-4", [2, 3, 4]), ("5-5", [5]),
])
def test_a_range_selects_tasks_that_keep_their_ids(task_range, ids):
    sweep = parse_tasks(tsv("--env A", *map(str, range(1, 6))), "t.tsv", task_range)
    assert [t.id for t in sweep.tasks] == ids
    assert [t.env["A"] for t in sweep.tasks] == [str(i) for i in ids]  # row 5 is task 5
    assert [t.line for t in sweep.tasks] == [i + 1 for i in ids]


@pytest.mark.parametrize("task_range, says", [
    ("6", "out of bounds: the file has 5 task(s), 1-5"), ("2-9", "out of bounds"), ("0", "malformed"),
    ("a", "malformed"), ("-3", "malformed"), ("1-2-3", "malformed"), ("4-2", "ends before it starts"),
    ("1,2", "malformed"),
])
def test_a_bad_range_is_one_line(task_range, says):
    assert says in refused(tsv("--env A", *map(str, range(1, 6))), task_range)


def test_parse_range_forms():
    assert parse_range("2", 9) == (2, 2) and parse_range("2-", 9) == (2, 9) and parse_range(" 2-3 ", 9) == (2, 3)


@pytest.mark.parametrize("rows, says", [
    (["--env A\t--env B", "1\t2", "1", "1\t2\t3"], "2 problems: line 3: 1 field, the header has 2; "
                                                    "line 4: 3 fields, the header has 2"),
    (["--env A", "1", "", "2"], "1 problem: line 3: a blank line"),
    (["--env A\t--foo B", "1\t2"], "line 1 column 2: unknown header '--foo B'"),
    (["-x A", "1"], "line 1 column 1: unknown header '-x A'"),
    (["--env", "1"], "line 1 column 1: '' is not a name for --env"),
    (["A\t1B", "1\t2"], "line 1 column 2: '1B' is not a name for --env"),
    (["--label bad-name", "1"], "line 1 column 1: 'bad-name' is not a name for --label"),
    (["--param bad/name", "1"], "line 1 column 1: 'bad/name' is not a name for --param"),
    (["A\t--env A", "1\t2"], "line 1 column 2: A is named again (column 1 names it)"),
    (["--input A\t--output A", "s3://bkt/a\ts3://bkt/b"], "line 1 column 2: A is named again"),
    (["DB_PASSWORD", "x"], "line 1 column 1: DB_PASSWORD looks like a secret; credentials never go into a manifest"),
    (["--input API_TOKEN", "s3://bkt/a"], "line 1 column 1: API_TOKEN looks like a secret"),
    (["BATCHDEPLOY_TASK_ID", "1"], "line 1 column 1: BATCHDEPLOY_TASK_ID is reserved"),
    (["A\t--input I", "1\t/local/file"], "line 2 column 2: --input I '/local/file' is not an s3:// URL"),
    (["A\t--output O", "1\ts3://Not_A_Bucket/x"], "line 2 column 2: --output O 's3://Not_A_Bucket/x' does not name a valid bucket"),
    (["--input I", "s3://bkt/data/*.csv"], "line 2 column 1: --input I 's3://bkt/data/*.csv' has a wildcard (* ? [ ]), "
                                           "which is not supported; name each file, or a folder with --input-recursive"),
    (["--output-recursive O", "s3://bkt/out/?/"], "line 2 column 1: --output-recursive O 's3://bkt/out/?/' has a wildcard"),
    (["--input I", "s3://bkt/dir/"], "line 2 column 1: --input I 's3://bkt/dir/' names a folder; use --input-recursive"),
    (["--output O", "s3://bkt"], "line 2 column 1: --output O 's3://bkt' names a folder; use --output-recursive"),
    (["--input I", "s3://bkt/a/../b"], "line 2 column 1: --input I 's3://bkt/a/../b' has '.' or '..' parts"),
    (["--output O", "s3://bkt/m.pt", "s3://bkt/m.pt"], "line 3 column 1: output s3://bkt/m.pt is written by task 1 (line 2 column 1) too"),
    (["--output-recursive O", "s3://bkt/out/", "s3://bkt/out/2/"], "line 3 column 1: output s3://bkt/out/2/ is written by task 1"),
    (["--output-recursive O\t--output M", "s3://bkt/r/\ts3://bkt/m", "s3://bkt/q/\ts3://bkt/r/m.pt"],
     "line 3 column 2: output s3://bkt/r/m.pt is written by task 1 (line 2 column 1) too"),
])
def test_each_mistake_names_its_line_and_column(rows, says):
    assert says in refused(tsv(*rows))


def test_every_problem_is_collected_and_the_list_is_capped():
    line = refused(tsv("--env A\t--input I", *[f"{n}\tnot-a-url" for n in range(1, 16)], "1"))
    assert line.startswith("t.tsv: 16 problems: line 2 column 2: --input I 'not-a-url' is not an s3:// URL;")
    assert line.count("is not an s3:// URL") == 10 and line.endswith("; and 6 more")


def test_a_task_template_in_an_output_is_not_a_duplicate():
    sweep = parse_tasks(tsv("--output O", "s3://bkt/m/{task}.pt", "s3://bkt/m/{task}.pt"))
    assert [t.env["O"] for t in sweep.tasks] == ["outputs/O/{task}.pt"] * 2


def test_one_task_may_read_and_write_anything_once():
    sweep = parse_tasks(tsv("--output-recursive O\t--output M", "s3://bkt/o/\ts3://bkt/o/m.pt"))
    assert len(sweep.tasks[0].outputs) == 2


@pytest.mark.parametrize("data, says", [
    (b"--env A\n\x00\x01\x02\n", "t.tsv is a binary file"),
    (b"--env A\n\xff\xfe\n", "t.tsv is not UTF-8 text (byte 9)"),
    (b"", "t.tsv: no header on line 1"),
    (b"\n1\n", "t.tsv: no header on line 1"),
    (b"--env A\n", "t.tsv: no tasks, only a header"),
])
def test_a_file_that_is_not_a_tasks_file_is_one_line(data, says):
    assert says in refused(data)


def test_10001_tasks_are_refused_naming_the_key_and_10000_are_accepted_quickly():
    header = "--param seed\t--output O"
    rows = [f"{n}\ts3://bkt/out/{n}.pt" for n in range(1, 10_002)]
    line = refused(tsv(header, *rows))
    assert "10,001 tasks, above MAX_SWEEP_TASKS=10000" in line and "raise MAX_SWEEP_TASKS to split the sweep" in line
    started = time.perf_counter()
    sweep = parse_tasks(tsv(header, *rows[:-1]))
    assert len(sweep.tasks) == 10_000 and time.perf_counter() - started < 5
    assert len(parse_tasks(tsv(header, *rows), task_range="2-").tasks) == 10_000  # the selection counts
    assert "above MAX_SWEEP_TASKS=3" in refused(tsv(header, *rows[:4]), max_tasks=3)


def test_read_tasks_file(tmp_path):
    path = tmp_path / "sweep.tsv"
    path.write_bytes(tsv("--env A", "1", "2"))
    sweep = read_tasks_file(path, "2")
    assert [t.id for t in sweep.tasks] == [2] and sweep.source["file"] == str(path) and sweep.source["range"] == "2"
    with pytest.raises(UsageError, match="does not exist"):
        read_tasks_file(tmp_path / "nope.tsv")
    with pytest.raises(UsageError, match="is a directory"):
        read_tasks_file(tmp_path)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.tsv"
    path.write_bytes(tsv("--env A", "1", "2", "3"))
    with pytest.raises(UsageError, match="is 14 bytes, above the 10 a tasks file may have"):
        read_tasks_file(path, max_bytes=10)
    assert tasksfile.MAX_FILE_BYTES == 64 * 1024 * 1024 and len(read_tasks_file(path, max_bytes=14).tasks) == 3


def test_the_sweep_keys_are_declared_with_their_defaults(tmp_path):
    from batchdeploy import config
    from batchdeploy.sweeps.outputs import DEFAULT_OUTPUT_PARAMETER
    from batchdeploy.sweeps.problems import DEFAULT_MAX_TASKS

    assert config.KEYS["MAX_SWEEP_TASKS"].default == str(DEFAULT_MAX_TASKS)
    assert config.KEYS["OUTPUT_PARAMETER"].default == DEFAULT_OUTPUT_PARAMETER
    loaded = config.load(environ={"BATCHDEPLOY_MAX_SWEEP_TASKS": "0"}, cwd=tmp_path)
    assert any("MAX_SWEEP_TASKS='0' is malformed" in p for p in loaded.malformed(["MAX_SWEEP_TASKS"]))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "fifo.tsv"
    os.mkfifo(fifo)
    with pytest.raises(Exception, match="not a regular file"):
        read_tasks_file(fifo)


def test_inputs_and_outputs_without_a_name_are_named_as_dsub_names_them():
    sweep = parse_tasks(tsv("--input\t--input-recursive\t--output\t--output-recursive O",
                            "s3://bkt/a.csv\ts3://bkt/d/\ts3://bkt/o/1.pt\ts3://bkt/r/1/"))
    env = sweep.tasks[0].env
    assert (env["INPUT_0"], env["INPUT_1"], env["OUTPUT_0"], env["O"]) == (
        "inputs/INPUT_0/a.csv", "inputs/INPUT_1/", "outputs/OUTPUT_0/1.pt", "outputs/O/")


def test_fields_are_split_as_dsubs_csv_reader_splits_them():
    sweep = parse_tasks(tsv('--env A\t--env B', '"x\ty"\tsay "hi"', '"a ""b"""\t'))
    assert [t.env for t in sweep.tasks] == [{"A": "x\ty", "B": 'say "hi"'}, {"A": 'a "b"', "B": ""}]


def test_only_the_selected_rows_are_read_but_a_blank_line_anywhere_is_refused():
    data = tsv("--env A\t--input I", "1\ts3://bkt/a", "broken", "3\tnot-a-url", "4\ts3://bkt/d")
    assert [t.id for t in parse_tasks(data, task_range="4").tasks] == [4]
    assert "line 4 column 2: --input I 'not-a-url'" in refused(data, "3-")
    assert "line 3: a blank line" in refused(tsv("--env A", "1", "", "3"), "3")


def test_a_duplicate_output_names_both_places():
    line = refused(tsv("A\t--output O", "1\ts3://bkt/m.pt", "2\ts3://bkt/m.pt"))
    assert "line 3 column 2: output s3://bkt/m.pt is written by task 1 (line 2 column 2) too" in line
