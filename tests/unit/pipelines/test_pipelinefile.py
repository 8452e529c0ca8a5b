"""The pipeline file: its format, magnus's keys, and every mistake as one line (exit 2)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from batchdeploy.errors import USAGE, BatchdeployError
from batchdeploy.pipelines.model import Dependency
from batchdeploy.pipelines.pipelinefile import parse_pipeline, read_pipeline_file

GOOD = """\
name: fit-and-summarize
settings: {queue: q1, region: eu-west-1, tags: {team: x}}
steps:
  prepare: {parameters: {experiment_file: s3://b/x.yaml}}
  fit:
    depends_on: [prepare]
    map: {grid: {seed: [1, 2], learning_rate: [0.050, "0.02"]}}
    parameters: {experiment_file: "{steps.prepare.output}experiment.yaml"}
  summarize: {depends_on: [fit], command: [python3, summarize.py, "{steps.fit.output}"]}
  evaluate: {depends_on: [{step: fit, type: N_TO_N}], map: {grid: {seed: [1, 2, 3, 4]}}}
"""


def parse(text, **kw):
    return parse_pipeline(textwrap.dedent(text), "p.yaml", **kw)


def error(text, **kw) -> str:
    with pytest.raises(BatchdeployError) as info:
        parse(text, **kw)
    assert info.value.exit_code == USAGE
    line = info.value.line()
    assert "\n" not in line
    return line


def test_the_format_read_into_the_model():
    p = parse(GOOD)
    assert p.name == "fit-and-summarize"
    assert p.settings == {"queue": "q1", "region": "eu-west-1", "tags": {"team": "x"}}
    assert [s.name for s in p.steps] == ["prepare", "fit", "summarize", "evaluate"]
    assert [s.line for s in p.steps] == [4, 5, 9, 10]
    fit = p.steps[1]
    assert fit.depends_on == [Dependency("prepare")]
    # values as written: 0.050 stays 0.050; the step's parameters in every task
    assert [t.params for t in fit.map.tasks][:2] == [
        {"experiment_file": "{steps.prepare.output}experiment.yaml", "seed": "1", "learning_rate": "0.050"},
        {"experiment_file": "{steps.prepare.output}experiment.yaml", "seed": "1", "learning_rate": "0.02"},
    ]
    assert p.steps[2].command == ["python3", "summarize.py", "{steps.fit.output}"]
    assert p.steps[3].depends_on == [Dependency("fit", "N_TO_N")]


def test_a_step_with_every_key():
    p = parse("""\
        name: p
        steps:
          a:
            job_definition: other:3
            parameters: {k: v}
            environment: {MODE: fast}
            command: [python3, a.py]
            vcpus: 2
            memory: 2048
            gpus: 1
            timeout: 600
            retries: 3
        """)
    a = p.steps[0]
    assert (a.job_definition, a.parameters, a.environment, a.command) == ("other:3", {"k": "v"}, {"MODE": "fast"}, ["python3", "a.py"])
    assert (a.vcpus, a.memory, a.gpus, a.timeout, a.retries) == ("2", "2048", "1", 600, 3)


def test_a_grid_value_with_a_comma_or_backslash_comes_back_as_written():
    p = parse(r"""
        name: p
        steps:
          a: {map: {grid: {k: ["x,y", 'a\,b', 'c\\d', 'e\']}}}
        """)
    assert [t.params["k"] for t in p.steps[0].map.tasks] == ["x,y", "a\\,b", "c\\\\d", "e\\"]


def test_a_tasks_file_relative_to_the_pipeline_file_with_a_range(tmp_path):
    (tmp_path / "sweep.tsv").write_text("--param seed\tMODE\n1\ta\n2\tb\n3\tc\n")
    (tmp_path / "p.yaml").write_text("name: p\nsteps:\n  a: {map: {tasks: sweep.tsv, range: 2-3}, parameters: {lr: '0.1'}}\n")
    p = read_pipeline_file(tmp_path / "p.yaml")
    assert [(t.id, t.params, t.env) for t in p.steps[0].map.tasks] == [
        (2, {"lr": "0.1", "seed": "2"}, {"MODE": "b"}), (3, {"lr": "0.1", "seed": "3"}, {"MODE": "c"})]
    assert p.source["file"] == str(tmp_path / "p.yaml") and len(p.source["sha256"]) == 64


def test_a_tasks_file_s_own_mistakes_are_named_with_the_step(tmp_path):
    (tmp_path / "sweep.tsv").write_text("--param seed\n1\n")
    (tmp_path / "p.yaml").write_text("name: p\nsteps:\n  a: {map: {tasks: sweep.tsv, range: 5}}\n  b: {map: {tasks: no.tsv}}\n")
    with pytest.raises(BatchdeployError) as info:
        read_pipeline_file(tmp_path / "p.yaml")
    line = info.value.line()
    assert "step a: map" in line and "out of bounds" in line
    assert "step b: map" in line and "no.tsv does not exist" in line


def test_magnus_mode_keys_map_onto_settings():
    p = parse("""\
        name: p
        settings:
          aws_batch_job_definition: jd
          aws_batch_job_queue: q
          region: eu-west-1
          tags: {a: b}
          aws_profile: dev
          role_arn: arn:aws:iam::123456789012:role/deployer
          use_credentials: true
          use_profile_in_batch_job: false
        steps:
          a: {aws_batch_job_definition: other}
        """)
    assert p.settings == {"job_definition": "jd", "queue": "q", "region": "eu-west-1", "tags": {"a": "b"},
                          "profile": "dev", "role_arn": "arn:aws:iam::123456789012:role/deployer"}
    assert p.steps[0].job_definition == "other"


@pytest.mark.parametrize("text, expected", [
    ("settings: {aws_credentials_file: ~/.aws/credentials}", "aws_credentials_file is not accepted: a pipeline file names no credentials"),
    ("settings: {use_profile_in_batch_job: 'True'}", "a job never gets the submitter's profile"),
    ("settings: {use_credentials: maybe}", "use_credentials must be true or false"),
    ("settings: {queue: q, aws_batch_job_queue: q}", "queue is given twice (as queue and as magnus's aws_batch_job_queue)"),
    ("mode: {type: local-aws-batch}", "mode is not accepted: write magnus's mode config keys under settings"),
    ("settings: {region: Europe}", "'Europe' is not a region (e.g. us-west-2)"),
    ("settings: {role_arn: deployer}", "'deployer' is not a role arn"),
    ("settings: {tags: {'aws:x': 1}}", "settings: tag key 'aws:x' is reserved"),
    ("settings: {job_definition: 'a b'}", "settings: job_definition 'a b' is not NAME, NAME:REVISION or an ARN"),
])
def test_magnus_keys_that_cannot_work_are_refused_with_the_reason(text, expected):
    assert expected in error(f"name: p\n{text}\nsteps: {{a: {{}}}}\n")


@pytest.mark.parametrize("key", ["aws_batch_job_queue", "queue", "region", "aws_profile", "role_arn", "tags"])
def test_per_pipeline_keys_in_a_step_are_refused(key):
    assert f"line 3: step a: {key} is one per pipeline: put it under settings" in error(
        f"name: p\nsteps:\n  a: {{{key}: x}}\n")


@pytest.mark.parametrize("text, expected", [
    ("name: p\nsteps:\n  a: {paramters: {}}\n", "line 3: step a: unknown key paramters (did you mean parameters?)"),
    ("name: p\nsteps:\n  a: {dependson: [b]}\n", "did you mean depends_on?"),
    ("name: p\nsteps:\n  a: {zzz: 1}\n", "unknown key zzz (known: job_definition, parameters"),
    ("name: p\nstep:\n  a: {}\n", "unknown key step (did you mean steps?)"),
    ("name: p\nsettings: {queu: q}\nsteps: {a: {}}\n", "line 2: settings: unknown key queu (did you mean queue?)"),
    ("name: p\nsteps:\n  a: {mode_config: {}}\n", "mode_config is not accepted: write its keys in the step itself"),
    ("name: p\nsteps:\n  a: {map: {grid: {k: [1, 2]}, rnage: 1}}\n", "unknown key rnage"),
    ("name: p\nsteps:\n  b: {}\n  a: {depends_on: [{step: b, typ: N_TO_N}]}\n", "unknown key typ (did you mean type?)"),
])
def test_unknown_keys_are_errors_with_a_did_you_mean(text, expected):
    assert expected in error(text)


@pytest.mark.parametrize("text, expected", [
    ("", "p.yaml: the file is empty"),
    ("[1, 2]", "line 1: the file must be a mapping"),
    ("steps: {a: {}}", "the file has no name:"),
    ("name: p", "the file has no steps:"),
    ("name: p\nsteps: {}", "the pipeline has no steps"),
    ("name: p\nsteps: [a, b]", "steps must be a mapping of step names to steps, not a list"),
    ("name: -p\nsteps: {a: {}}", "name '-p' is not one AWS accepts"),
    ("name: p\nsteps:\n  a: {}\n  a: {}\n", "line 4: steps: a is given twice (first on line 3)"),
    ("name: p\nsteps:\n  a: 5\n", "step a must be a mapping"),
    ("name: p\nsteps:\n  a: {command: python3 a.py}\n", "command must be a non-empty list of words"),
    ("name: p\nsteps:\n  a: {timeout: 1h}\n", "timeout '1h' is not a whole number"),
    ("name: p\nsteps:\n  a: {vcpus: [1]}\n", "vcpus must be a single value, not a list"),
    ("name: p\nsteps:\n  a: {parameters: {k: }}\n", "k must have a single value, not empty"),
    ("name: p\nsteps:\n  a: {parameters: {k: ''}}\n", "k has an empty value"),
    ("name: p\nsteps:\n  a: {parameters: {'k=': v}}\n", "'k=' is not a parameter name"),
    ("name: p\nsteps:\n  a: {parameters: [k]}\n", "parameters must be a mapping"),
    ("name: p\nsteps:\n  a: {parameters: {db: 'postgresql://u:hunter2@h/d'}}\n", "holds a password in a URL"),
    ("name: p\nsteps:\n  a: {environment: {API_TOKEN: x}}\n", "API_TOKEN looks like a secret"),
    ("name: p\nsteps:\n  a: {environment: {BATCHDEPLOY_OUTPUT: x}}\n", "BATCHDEPLOY_OUTPUT is reserved"),
    ("name: p\nsteps:\n  a: {environment: {AWS_BATCH_X: x}}\n", "AWS_BATCH_X is reserved"),
    ("name: p\nsteps:\n  a: {environment: {1X: x}}\n", "'1X' is not a variable name"),
    ("name: p\nsteps:\n  b: {}\n  a: {depends_on: [{step: b, type: SEQUENTIAL}]}\n", "type SEQUENTIAL is not one of all, N_TO_N"),
    ("name: p\nsteps:\n  a: {depends_on: [{type: all}]}\n", "a dependency names its step"),
    ("name: p\nsteps:\n  a: {map: [1]}\n", "map must be {grid: {key: [values]}} or {tasks: FILE}"),
    ("name: p\nsteps:\n  a: {map: {}}\n", "give either grid or tasks"),
    ("name: p\nsteps:\n  a: {map: {grid: {k: [1, 2]}, range: 1-2}}\n", "range selects rows of a tasks file"),
    ("name: p\nsteps:\n  a: {map: {grid: {k: 1}}}\n", "grid: k must be a list of values"),
    ("name: p\nsteps:\n  a: {map: {grid: {k: [1, 1]}}}\n", "step a: map: 1 problem: k gives '1' twice"),
    ("name: p\nsteps:\n  a: {map: {grid: {k: [1, 2]}}, parameters: {k: 3}}\n", "k is both a fixed parameter"),
    ("name: p\nsteps:\n  a: {map: {tasks: [x]}}\n", "tasks must be a tasks file's path"),
])
def test_each_mistake_is_named_with_its_line(text, expected):
    assert expected in error(text)


def test_a_grid_too_large_is_refused_before_it_is_built():
    values = ", ".join(str(i) for i in range(101))
    line = error(f"name: p\nsteps:\n  a: {{map: {{grid: {{x: [{values}], y: [{values}]}}}}}}\n")
    assert "grid of 10,201 tasks, above AWS's largest array, 10,000 (a map step is one array job)" in line
    assert "above MAX_SWEEP_TASKS=5" in error("name: p\nsteps:\n  a: {map: {grid: {x: [1, 2, 3], y: [1, 2]}}}\n",
                                              max_tasks=5)


def test_every_problem_at_once_reading_and_graph():
    line = error("name: p\nsteps:\n  a: {depends_on: [b], paramters: {}}\n  b: {depends_on: [a], timeout: 5}\n")
    assert line.startswith("p.yaml: 3 problems: ")
    assert "unknown key paramters" in line and "line 3: a cycle: a -> b -> a" in line and "timeout 5 is too short" in line


@pytest.mark.parametrize("text, expected", [
    ("name: p\nsteps: {a: {}\n", "invalid YAML at line"),
    ("name: p\nsteps: {a: {}}\n---\nname: q\n", "more than one YAML document"),
    ("x: &a [1]\ny: *a\n", "line 2: an alias (*a) is not accepted"),
    ("name: p\nsteps: {a: {parameters: {k: !!python/object:os.system x}}}\n", "line 2: the tag tag:yaml.org,2002:python/object:os.system is not accepted"),
    ("name: p\nsteps: {a: {parameters: {k: !!str 5}}}\n", None),
    ("x: " + "[" * 40 + "]" * 40 + "\n", "nested more than 32 levels deep"),
])
def test_unsafe_or_broken_yaml_is_one_line(text, expected):
    if expected is None:  # YAML's own tags are fine
        assert parse(text).steps[0].parameters == {"k": "5"}
        return
    assert expected in error(text)


def test_file_problems_are_one_line(tmp_path):
    cases = {tmp_path / "none.yaml": "does not exist", tmp_path: "is a directory"}
    (tmp_path / "latin.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    cases[tmp_path / "latin.yaml"] = "is not UTF-8 text (byte 10)"
    (tmp_path / "big.yaml").write_text("#" * (1024 * 1024 + 1))
    cases[tmp_path / "big.yaml"] = "is 1,048,577 bytes, above the 1,048,576 a pipeline file may have"
    for path, expected in cases.items():
        with pytest.raises(BatchdeployError) as info:
            read_pipeline_file(path)
        assert info.value.exit_code == USAGE and expected in info.value.line()


def test_too_many_steps_or_tasks_are_refused_before_they_are_built():
    steps = "".join(f"  s{i}: {{}}\n" for i in range(1001))
    assert "steps: 1,001 steps, above the 1,000 one pipeline may have" in error(f"name: p\nsteps:\n{steps}")
    values = ", ".join(map(str, range(100)))
    grid = "{map: {grid: {x: [" + values + "], y: [" + values + "]}}}"
    steps = "".join(f"  s{i}: {grid}\n" for i in range(11))
    assert "the maps up to step s10 have 110,000 tasks, above the 100,000 one pipeline may have" in error(
        f"name: p\nsteps:\n{steps}")


BAD = Path(__file__).parent / "bad"


@pytest.mark.parametrize("name, expected", [
    ("cycle.yaml", "1 problem: line 3: a cycle: a -> c -> b -> a (each depends on the next)"),
    ("unknown-dependency.yaml", "1 problem: line 4: step fit: depends on prepar, which is not a step (did you mean prepare?)"),
    ("21-dependencies.yaml", "1 problem: line 24: step join: depends on 21 jobs, above AWS's 20 "
                             "(add a step that gathers them)"),
    ("map-size-mismatch.yaml", "1 problem: line 4: step evaluate: N_TO_N on fit needs both to be map steps (arrays) "
                               "of one size: 2 tasks and 3 tasks"),
])
def test_the_issue_s_bad_files_are_one_line_each(name, expected):
    """The files an executor's test can submit to see exit 2 and nothing submitted (tests/unit/pipelines/bad)."""
    with pytest.raises(BatchdeployError) as info:
        read_pipeline_file(BAD / name)
    assert info.value.exit_code == USAGE
    assert info.value.line() == f"{BAD / name}: {expected}"
