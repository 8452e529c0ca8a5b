"""The state folder read defensively (issue #13): damage is one line naming the file, never a traceback."""

import json

import pytest

from batchdeploy.errors import ConfigError
from batchdeploy.state import State, atomic_write


@pytest.mark.parametrize("content,reason", [
    (b"[1, 2]", "it holds list, not an object"),
    (b'"just a string"', "it holds str, not an object"),
    (b"{not json", "unreadable (JSONDecodeError)"),
    (b"\xff\xfe{}", "unreadable (UnicodeDecodeError)"),
    (b"[" * 100_000, "unreadable (RecursionError)"),
])
def test_a_damaged_object_file_is_one_line_naming_it_and_the_fix(tmp_path, content, reason):
    (tmp_path / "job-definitions.json").write_bytes(content)
    with pytest.raises(ConfigError) as e:
        State(tmp_path).read("job-definitions.json")
    line = e.value.line()
    assert str(tmp_path / "job-definitions.json") in line and reason in line
    assert "move it away and run again" in line and "\n" not in line and e.value.exit_code == 2


def test_a_missing_file_reads_as_empty(tmp_path):
    assert State(tmp_path).read("images.json") == {}


def test_damaged_lines_of_a_record_file_are_skipped_with_one_warning(tmp_path):
    good = [{"jobId": "a"}, {"jobId": "b"}]
    raw = b"\n".join([json.dumps(good[0]).encode(), b'"a string line"', b"\xff\xfe not utf-8", b"[1]",
                      b'{"torn": ', b"", json.dumps(good[1]).encode()])
    (tmp_path / "jobs.jsonl").write_bytes(raw + b"\n")
    warnings = []
    assert State(tmp_path, warn=warnings.append).records("jobs.jsonl") == good
    assert warnings == [f"{tmp_path / 'jobs.jsonl'}: 4 damaged line(s) skipped (torn by a crash or edited by hand)"]


def test_a_clean_record_file_warns_nothing(tmp_path):
    state, warnings = State(tmp_path), []
    state.warn = warnings.append
    state.append("jobs.jsonl", {"jobId": "a"})
    assert state.records("jobs.jsonl") == [{"jobId": "a"}] and warnings == []


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "x.json"
    atomic_write(target, "old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "\udcff")  # a lone surrogate cannot be encoded strictly
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.json"]

