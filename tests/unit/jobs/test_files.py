"""jobdefs: reading, rendering and checking the files JOB_DEFINITIONS names; the example template;
where ${IMAGE_TAG} comes from. Real files in a temporary project folder, no AWS."""

import json
import shutil
from pathlib import Path

import pytest

from batchdeploy import config
from batchdeploy.aws import shapes
from batchdeploy.aws.batch import MAX_JOB_DEFINITION_BYTES
from batchdeploy.aws.tags import TAG_HASH, TAG_PROJECT
from batchdeploy.errors import ConfigError
from batchdeploy.jobdef import check as definition
from batchdeploy.jobdef import files as jobfiles

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def folder(tmp_path):
    p = tmp_path / "my project"
    p.mkdir()
    return p


def load(folder, env="PROJECT_NAME=demo\nJOB_ROLE_ARN=arn:aws:iam::123456789012:role/r\n", **files):
    (folder / ".aws_env").write_text(env)
    for name, content in files.items():
        path = folder / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    return config.load(environ={}, cwd=folder)


def good(name="demo-run", **over):
    d = {
        "jobDefinitionName": name,
        "type": "container",
        "containerProperties": {
            "image": "registry/${PROJECT_NAME}:${IMAGE_TAG}",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    }
    d.update(over)
    return d


def error_of(cfg, tag="1.0", origin="VERSION"):
    with pytest.raises(ConfigError) as exc:
        jobfiles.load_sources(cfg, tag, origin)
    return exc.value


def test_the_example_renders_with_the_example_configuration_alone_and_validates(folder):
    shutil.copy(ROOT / ".aws_env.example", folder / ".aws_env")
    shutil.copy(ROOT / "job-definition.json.example", folder / "job-definition.json")
    cfg = config.load(environ={}, cwd=folder)
    tag, origin = jobfiles.resolve_image_tag(cfg, {})
    assert (tag, origin) == ("1.0.0", "VERSION (no image pushed yet by ./deploy.sh -b)")
    (src,), warnings = jobfiles.load_sources(cfg, tag, origin)
    assert warnings == []
    assert src.name == "dirtyduck-development-experiment"
    c = src.request["containerProperties"]
    assert c["image"] == "123456789012.dkr.ecr.us-west-2.amazonaws.com/dirtyduck:1.0.0"
    assert c["jobRoleArn"] == "arn:aws:iam::123456789012:role/dirtyduckBatchJobRole"
    assert "vcpus" not in c and "memory" not in c
    assert src.request["tags"][TAG_PROJECT] == "dirtyduck"
    assert src.request["tags"][TAG_HASH] == src.content_hash
    # What is sent passes botocore's model, and the user's part (our tags aside) every AWS limit.
    assert shapes.request("batch", "RegisterJobDefinition", src.request) == []
    assert definition.check(src.definition, "dirtyduck").problems == []
    assert definition.request_size(src.request) < MAX_JOB_DEFINITION_BYTES
    assert "${" not in json.dumps(src.request)
    assert src.request["parameters"].keys() == set(definition.ref_names(src.request))


def test_the_example_is_a_register_job_definition_request_as_the_aws_cli_takes_it():
    data = json.loads((ROOT / "job-definition.json.example").read_text())
    assert definition.check(definition.tidy(config.render(data, {k: "x1" for k in (
        "PROJECT_NAME", "ENV", "S3_BUCKET", "S3_PREFIX", "AWS_REGISTRY", "IMAGE_TAG", "AWS_REGION")} | {
        "JOB_ROLE_ARN": "arn:aws:iam::123456789012:role/r"}, "example")), "p").problems == []


def test_several_files_and_a_folder(folder):
    cfg = load(folder, env="PROJECT_NAME=demo\nJOB_DEFINITIONS=a.json jobs\n",
               **{"a.json": good("a"), "jobs__b.json": good("b"), "jobs__c.json": good("c"), "jobs__notes.txt": "x"})
    sources, _ = jobfiles.load_sources(cfg, "t1", "VERSION")
    assert [(s.shown, s.name) for s in sources] == [("a.json", "a"), ("jobs/b.json", "b"), ("jobs/c.json", "c")]
    assert all(s.request["containerProperties"]["image"] == "registry/demo:t1" for s in sources)


def test_one_bad_file_fails_the_whole_run_with_every_problem_named_by_file(folder):
    bad = good("b", timeout={"attemptDurationSeconds": 5})
    bad["containerProperties"]["resourceRequirements"][1]["value"] = 512
    cfg = load(folder, env="PROJECT_NAME=demo\nJOB_DEFINITIONS=a.json b.json\n", **{"a.json": good("a"), "b.json": bad})
    err = error_of(cfg)
    assert err.problems == [
        "b.json: containerProperties.resourceRequirements[1].value: expected a string, got a number",
        "b.json: timeout.attemptDurationSeconds: 5 is below AWS Batch's minimum of 60 seconds",
    ]
    assert err.line().startswith("2 problems in the job definitions: b.json: ")
    assert err.line().endswith("; nothing was registered; fix them and run again")
    assert err.exit_code == 2


def test_malformed_json_names_line_and_column(folder):
    cfg = load(folder, **{"job-definition.json": '{\n  "jobDefinitionName": "x",\n  "type": "container"\n  "oops": 1\n}\n'})
    assert error_of(cfg).problems == [
        "job-definition.json: invalid JSON at line 4 column 3: Expecting ',' delimiter"]


def test_duplicate_keys_are_a_problem(folder):
    cfg = load(folder, **{"job-definition.json": '{"jobDefinitionName": "x", "jobDefinitionName": "y", "type": "container"}'})
    assert "job-definition.json: key 'jobDefinitionName' appears twice in one object (JSON keeps only the last)" in error_of(cfg).problems


def test_missing_file_points_at_the_example(folder):
    cfg = load(folder)
    (folder / "job-definition.json.example").write_text("{}")
    assert error_of(cfg).problems == [
        "job-definition.json: no such file (copy job-definition.json.example to job-definition.json and adapt it)"]
    cfg = load(folder, env="PROJECT_NAME=demo\nJOB_DEFINITIONS=other.json empty\n")
    (folder / "empty").mkdir()
    assert error_of(cfg).problems == [
        "other.json: no such file (check JOB_DEFINITIONS in .aws_env)", "empty: the folder holds no .json file"]


def test_unknown_placeholder_names_file_placeholder_and_path(folder):
    d = good()
    d["containerProperties"]["environment"] = [{"name": "X", "value": "${NOPE}"}]
    cfg = load(folder, **{"job-definition.json": d})
    assert error_of(cfg).problems == [
        "job-definition.json: unknown placeholder ${NOPE} at containerProperties.environment[0].value (define NOPE in .aws_env)"]


def test_secrets_never_go_into_a_definition(folder):
    d = good()
    d["containerProperties"]["environment"] = [{"name": "PW", "value": "${POSTGRES_PASSWORD}"}]
    cfg = load(folder, env="PROJECT_NAME=demo\nPOSTGRES_PASSWORD=CANARY-pw-123456\n", **{"job-definition.json": d})
    err = error_of(cfg)
    assert err.problems[0].startswith(
        "job-definition.json: ${POSTGRES_PASSWORD} at containerProperties.environment[0].value is a secret")
    assert "CANARY" not in err.line()


def test_placeholders_in_keys_are_refused(folder):
    cfg = load(folder, **{"job-definition.json": good(tags={"${PROJECT_NAME}": "x"})})
    assert error_of(cfg).problems == [
        "job-definition.json: ${PROJECT_NAME} in the key tags.${PROJECT_NAME}: placeholders are filled in values only"]


def test_the_same_name_in_two_files(folder):
    cfg = load(folder, env="PROJECT_NAME=demo\nJOB_DEFINITIONS=a.json b.json\n", **{"a.json": good("x"), "b.json": good("x")})
    assert error_of(cfg).problems == ["b.json: jobDefinitionName 'x' is also defined in a.json"]


def test_image_tag_comes_from_images_json_then_version(folder):
    cfg = load(folder, env="PROJECT_NAME=demo\nVERSION=2.0\n")
    pushed = {"repository": "r/demo", "tag": "c0ffee", "digest": "sha256:1", "version": "2.0", "pushed_at": "2026-01-01T00:00:00Z"}
    assert jobfiles.resolve_image_tag(cfg, {"demo": pushed, "other": {**pushed, "tag": "bad"}})[0] == "c0ffee"
    assert jobfiles.resolve_image_tag(cfg, {"only": pushed}) == (
        "c0ffee", "image only in .batchdeploy/images.json, pushed 2026-01-01T00:00:00Z")
    assert jobfiles.resolve_image_tag(cfg, {})[0] == "2.0"
    tag, why = jobfiles.resolve_image_tag(cfg, {"a": pushed, "b": pushed})
    assert tag is None and why == "images.json records several images (a, b) and none is named demo"
    cfg = load(folder, env="PROJECT_NAME=demo\nIMAGE_TAG=pinned\n")
    assert jobfiles.resolve_image_tag(cfg, {"demo": pushed})[0] == "pinned"


def test_ambiguous_image_tag_is_an_error_only_where_used(folder):
    cfg = load(folder, **{"job-definition.json": good()})
    err = error_of(cfg, None, "images.json records several images (a, b) and none is named demo")
    assert err.problems == ["job-definition.json: ${IMAGE_TAG} at containerProperties.image: images.json records several "
                            "images (a, b) and none is named demo; set IMAGE_TAG in .aws_env"]
    d = good()
    d["containerProperties"]["image"] = "registry/fixed:1"
    cfg = load(folder, **{"job-definition.json": d})
    (src,), _ = jobfiles.load_sources(cfg, None, "ambiguous")
    assert not src.uses_image_tag


def test_one_file_with_a_default_name_and_more_variables(folder):
    """create's way in: one file, named after the prefix when it leaves the name out, ${PREFIX} filled."""
    d = good()
    del d["jobDefinitionName"]
    d["containerProperties"]["command"] = ["echo", "${PREFIX}"]
    cfg = load(folder, env="PROJECT_NAME=demo\nPOSTGRES_PASSWORD=CANARY-pw-123456\n", **{"jd.json": d})
    src, problems, warnings = jobfiles.load_file(
        cfg, folder / "jd.json", "t1", "VERSION", variables={"PREFIX": "demo-dev"}, default_name="demo-dev-jd")
    assert (problems, warnings, src.shown, src.name) == ([], [], "jd.json", "demo-dev-jd")
    assert src.request["containerProperties"]["command"] == ["echo", "demo-dev"]
    assert src.request["tags"][TAG_HASH] == src.content_hash
    src, _, _ = jobfiles.load_file(cfg, folder / "jd.json", "t1", "VERSION", default_name="x",
                                  variables={"PREFIX": "p"}, shown="given/jd.json")
    assert src.shown == "given/jd.json"
    (folder / "jd.json").write_text(json.dumps(good("named")))
    src, _, _ = jobfiles.load_file(cfg, folder / "jd.json", "t1", "VERSION", default_name="demo-dev-jd")
    assert src.name == "named"  # the file's own name wins
    d["containerProperties"]["environment"] = [{"name": "PW", "value": "${POSTGRES_PASSWORD}"}]
    (folder / "jd.json").write_text(json.dumps(d))
    src, problems, _ = jobfiles.load_file(cfg, folder / "jd.json", "t1", "VERSION", default_name="x",
                                         variables={"PREFIX": "p"})
    assert src is None and problems == [
        "jd.json: ${POSTGRES_PASSWORD} at containerProperties.environment[0].value is a secret; a job definition "
        "is readable by anyone allowed batch:DescribeJobDefinitions, so use containerProperties.secrets instead"]


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "job-definition.json: nested more than 64 levels deep"),
        ("[" * 100 + "]" * 100, "job-definition.json: nested more than 64 levels deep"),
        ('{"jobDefinitionName": "x", "timeout": {"attemptDurationSeconds": ' + "9" * 5000 + "}}",
         "job-definition.json: a number is too long"),
    ],
)
def test_a_job_definition_no_walker_could_take_is_one_problem_not_a_traceback(folder, text, words):
    """Before: 10,000 levels of nesting was a RecursionError from json.loads (files.py's own parser)."""
    err = error_of(load(folder, **{"job-definition.json": text}))
    assert len(err.problems) == 1 and err.problems[0].startswith(words)
