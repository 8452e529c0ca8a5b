import pytest

from batchdeploy import config, userjson
from batchdeploy.errors import ConfigError


def write(tmp_path, text, name=".aws_env"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_precedence_flag_over_environment_over_file_over_default(tmp_path):
    write(tmp_path, "PROJECT_NAME=fromfile\nAWS_REGION=eu-west-1\nS3_BUCKET=file-bucket\nCUSTOM=x\nOTHER=o\n")
    cfg = config.load(
        environ={"AWS_REGION": "us-east-2", "BATCHDEPLOY_S3_BUCKET": "env-bucket", "BATCHDEPLOY_CUSTOM": "y",
                 "OTHER": "shell"},
        flags={"AWS_REGION": "ap-south-1"},
        cwd=tmp_path,
    )
    assert cfg["AWS_REGION"] == "ap-south-1" and cfg.sources["AWS_REGION"] == "flag"
    assert cfg["S3_BUCKET"] == "env-bucket" and cfg.sources["S3_BUCKET"] == "environment"
    assert cfg["PROJECT_NAME"] == "fromfile" and cfg.sources["PROJECT_NAME"].endswith(".aws_env")
    assert cfg["ENV"] == "development" and cfg.sources["ENV"] == "default"
    assert cfg["CUSTOM"] == "y"  # a key the file names may be overridden as BATCHDEPLOY_<KEY> too
    assert cfg["OTHER"] == "o"  # but not by its plain name: the file did not opt it in


def test_unrelated_shell_variables_never_become_the_deployment(tmp_path):
    """Issue #20 item 6: POSIX sh's ENV=/root/.shrc and a stray VERSION or S3_BUCKET in the shell."""
    write(tmp_path, "PROJECT_NAME=p\nS3_BUCKET=file-bucket\n")
    cfg = config.load(environ={"ENV": "/root/.shrc", "VERSION": "9", "S3_BUCKET": "shell", "PROJECT_NAME": "x",
                               "HOME": "/root"}, cwd=tmp_path)
    assert (cfg["ENV"], cfg["VERSION"], cfg["S3_BUCKET"], cfg["PROJECT_NAME"]) == ("development", "latest", "file-bucket", "p")
    assert cfg.get("HOME") is None
    cfg = config.load(environ={"BATCHDEPLOY_ENV": "production", "AWS_JOB_QUEUE": "q", "CONTAINER_CLI": "podman"},
                      cwd=tmp_path)
    assert (cfg["ENV"], cfg["AWS_JOB_QUEUE"], cfg["CONTAINER_CLI"]) == ("production", "q", "podman")


def test_the_file_opts_keys_into_the_environment(tmp_path):
    write(tmp_path, "ENVIRONMENT_KEYS=S3_BUCKET SUBNET_ID\nS3_BUCKET=file-bucket\nSUBNET_ID=\nVERSION=1\n")
    cfg = config.load(environ={"S3_BUCKET": "shell-bucket", "SUBNET_ID": "subnet-1", "VERSION": "2"}, cwd=tmp_path)
    assert (cfg["S3_BUCKET"], cfg["SUBNET_ID"], cfg["VERSION"]) == ("shell-bucket", "subnet-1", "1")


def test_unrelated_environment_is_not_configuration(tmp_path):
    cfg = config.load(environ={"HOME": "/root", "BATCHDEPLOY_PROJECT_NAME": "p"}, cwd=tmp_path)
    assert cfg.get("HOME") is None and cfg["PROJECT_NAME"] == "p"
    assert cfg.env_file is None and cfg.project_dir == tmp_path


def test_references_expand_from_earlier_keys_of_the_file_only(tmp_path):
    """Issue #20 item 7: triage's `S3_BUCKET=${PROJECT_NAME}-bucket` works as `source .aws_env` did."""
    write(tmp_path, "PROJECT_NAME=dirtyduck\nS3_BUCKET=${PROJECT_NAME}-bucket\nS3_PREFIX=\"${ENV:-dev}/x\"\n"
                    "EMPTY=\nLITERAL='${PROJECT_NAME}'\nBOTH=${EMPTY:-d}${EMPTY}\n")
    cfg = config.load(environ={"PROJECT_NAME": "shell", "ENV": "shell"}, cwd=tmp_path)
    assert cfg["S3_BUCKET"] == "dirtyduck-bucket" and cfg["S3_PREFIX"] == "dev/x"
    assert cfg["LITERAL"] == "${PROJECT_NAME}" and cfg["BOTH"] == "d"
    cfg.require("S3_BUCKET")


def test_a_reference_to_no_earlier_key_names_its_line(tmp_path):
    write(tmp_path, "S3_BUCKET=${PROJECT_NAME}-bucket\nPROJECT_NAME=late\nX=${HOME}\n")
    with pytest.raises(ConfigError) as err:
        config.load(environ={"HOME": "/root"}, cwd=tmp_path)
    text = err.value.line()
    assert "line 1: ${PROJECT_NAME} names no key set on an earlier line" in text
    assert "line 3: ${HOME}" in text and "/root" not in text


def test_triage_version_is_the_version_where_none_is_set(tmp_path):
    write(tmp_path, "PROJECT_NAME=dirtyduck\nTRIAGE_VERSION=3.3.0\n")
    cfg = config.load(environ={}, cwd=tmp_path)
    assert cfg["VERSION"] == "3.3.0" and cfg.sources["VERSION"].endswith("(TRIAGE_VERSION)")
    write(tmp_path, "TRIAGE_VERSION=3.3.0\nVERSION=1.0\n")
    assert config.load(environ={}, cwd=tmp_path)["VERSION"] == "1.0"


def test_aws_default_region_is_honoured(tmp_path):
    cfg = config.load(environ={"AWS_DEFAULT_REGION": "eu-central-1"}, cwd=tmp_path)
    assert cfg["AWS_REGION"] == "eu-central-1"


def test_env_file_chosen_by_flag_or_variable(tmp_path):
    other = write(tmp_path, "PROJECT_NAME=other\n", "prod.env")
    assert config.load(env_file=str(other), environ={}, cwd=tmp_path)["PROJECT_NAME"] == "other"
    cfg = config.load(environ={"BATCHDEPLOY_ENV_FILE": "prod.env"}, cwd=tmp_path)
    assert cfg["PROJECT_NAME"] == "other" and cfg.env_file == other


def test_named_env_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(env_file="nope.env", environ={}, cwd=tmp_path)


def test_file_is_data_not_shell(tmp_path):
    write(tmp_path, "#!/usr/bin/env bash\nexport PROJECT_NAME=p\nS3_PREFIX=$(whoami)/x\nQUOTED='a b'\n")
    cfg = config.load(environ={"HOME": "/root"}, cwd=tmp_path)
    assert cfg["PROJECT_NAME"] == "p"
    assert cfg["S3_PREFIX"] == "$(whoami)/x"  # not run
    assert cfg["QUOTED"] == "a b"


def test_unparseable_line_names_the_line(tmp_path):
    write(tmp_path, "PROJECT_NAME=p\nthis is not a setting\n")
    with pytest.raises(ConfigError) as e:
        config.load(environ={}, cwd=tmp_path)
    assert "line 2" in e.value.line()


def test_require_reports_every_problem_at_once(tmp_path):
    write(tmp_path, "PROJECT_NAME=Bad Name\nS3_BUCKET=s3://bucket\n")
    cfg = config.load(environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError) as e:
        cfg.require("PROJECT_NAME", "AWS_REGION", "S3_BUCKET", "AWS_JOB_QUEUE")
    line = e.value.line()
    for key in ("PROJECT_NAME", "AWS_REGION", "S3_BUCKET", "AWS_JOB_QUEUE"):
        assert key in line
    assert str(tmp_path / ".aws_env") in line
    assert e.value.exit_code == 2


def test_secret_values_are_masked_in_errors_and_listings(tmp_path):
    cfg = config.load(environ={"AWS_SECRET_ACCESS_KEY": "has a space"}, cwd=tmp_path)
    with pytest.raises(ConfigError) as e:
        cfg.require(optional=("AWS_SECRET_ACCESS_KEY",))
    assert "has a space" not in e.value.line()
    assert cfg.masked()["AWS_SECRET_ACCESS_KEY"] == "****"
    assert config.is_secret("POSTGRES_PASSWORD") and not config.is_secret("PROJECT_NAME")


def test_build_secrets_names_secrets_and_is_none_itself(tmp_path):
    write(tmp_path, "BUILD_SECRETS=NPM_TOKEN PIP_INDEX_URL\nNPM_TOKEN=t-0123456789\nPIP_INDEX_URL=https://u:pw@x\n")
    cfg = config.load(environ={}, cwd=tmp_path)
    masked = cfg.masked()
    assert masked["BUILD_SECRETS"] == "NPM_TOKEN PIP_INDEX_URL"  # names, shown (and never redacted)
    assert masked["NPM_TOKEN"] == masked["PIP_INDEX_URL"] == "****"
    assert not config.is_secret("BUILD_SECRETS") and config.is_secret("NPM_TOKEN")


def test_paths_are_relative_to_the_env_file(tmp_path):
    (tmp_path / "proj").mkdir()
    write(tmp_path / "proj", "EXPERIMENTS_DIR=exps\n")
    cfg = config.load(env_file=str(tmp_path / "proj" / ".aws_env"), environ={}, cwd=tmp_path)
    assert cfg.path(cfg["EXPERIMENTS_DIR"]) == tmp_path / "proj" / "exps"
    assert cfg.state_dir() == tmp_path / "proj" / ".batchdeploy"


def test_render_fills_placeholders_in_strings_only():
    doc = {"image": "${REG}/${P}:${T}", "n": 3, "cmd": ["Ref::x", "${P}"]}
    assert config.render(doc, {"REG": "r", "P": "p", "T": "t"}, "f.json") == {
        "image": "r/p:t",
        "n": 3,
        "cmd": ["Ref::x", "p"],
    }


def test_render_reports_every_unknown_placeholder_with_its_path():
    with pytest.raises(ConfigError) as e:
        config.render({"a": {"b": ["${NOPE}"]}, "c": "${ALSO}"}, {}, "job-definition.json")
    line = e.value.line()
    assert "job-definition.json" in line and "${NOPE} at a.b[0]" in line and "${ALSO} at c" in line


def test_load_json_names_line_and_column(tmp_path):
    p = write(tmp_path, '{\n  "a": 1,\n  "b": \n}\n', "x.json")
    with pytest.raises(ConfigError, match=r"line 4 column 1"):
        userjson.load_json(p)


def test_load_json_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        userjson.load_json(tmp_path / "job-definition.json")


def test_render_can_refuse_secrets_where_aws_shows_the_result():
    doc = {"tags": {"db": "${POSTGRES_PASSWORD}", "p": "${PROJECT_NAME}"}}
    values = {"POSTGRES_PASSWORD": "CANARY-pw-123456", "PROJECT_NAME": "p"}
    assert config.render(doc, values, "f.json")["tags"]["db"] == "CANARY-pw-123456"  # allowed by default
    with pytest.raises(ConfigError) as e:
        config.render(doc, values, "compute-environment.json", readable_by="anyone allowed batch:Describe")
    line = e.value.line()
    assert "${POSTGRES_PASSWORD} at tags.db is a secret, readable by anyone allowed batch:Describe" in line
    assert "CANARY-pw-123456" not in line


# ---- bad input (issue #14) ------------------------------------------------------------------------

@pytest.mark.parametrize("key,value", [
    ("AWS_ENDPOINT_URL", "not a url"), ("AWS_ENDPOINT_URL", "notaurl"), ("AWS_ENDPOINT_URL", "ftp://h"),
    ("AWS_MAX_ATTEMPTS", "abc"), ("AWS_MAX_ATTEMPTS", "0"), ("AWS_REGION", "not a region!"),
    ("AWS_RETRY_MODE", "bogus"), ("RUNNABLE_WARN_S", "10m"), ("CREDENTIALS_DURATION", "-1"),
])
def test_every_known_key_is_checked_before_any_aws_call(tmp_path, key, value):
    cfg = config.load(environ={key if key.startswith("AWS_") else f"BATCHDEPLOY_{key}": value}, cwd=tmp_path)
    with pytest.raises(ConfigError) as e:
        cfg.check_known()
    assert e.value.exit_code == 2
    line = e.value.line()
    assert f"{key}=" in line and "malformed (from the environment)" in line and f"e.g. {key}=" in line


def test_all_malformed_keys_are_reported_at_once_with_require(tmp_path):
    write(tmp_path, "AWS_MAX_ATTEMPTS=abc\n")
    cfg = config.load(environ={}, flags={"AWS_REGION": "nowhere"}, cwd=tmp_path)
    with pytest.raises(ConfigError) as e:
        cfg.require("S3_BUCKET")
    assert [p.split("=")[0].split(" ")[0] for p in e.value.problems] == ["S3_BUCKET", "AWS_REGION", "AWS_MAX_ATTEMPTS"]
    assert "(from a flag)" in e.value.problems[1]


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000", "https://batch.us-east-1.amazonaws.com", "http://[::1]:9/x"])
def test_good_endpoints_pass(tmp_path, url):
    config.load(environ={"AWS_ENDPOINT_URL": url}, cwd=tmp_path).check_known()


def test_a_key_set_twice_warns_with_its_lines(tmp_path):
    write(tmp_path, "S3_BUCKET=a-b-c\nPROJECT_NAME=p\nS3_BUCKET=a-b-d\n")
    cfg = config.load(environ={}, cwd=tmp_path)
    assert cfg["S3_BUCKET"] == "a-b-d"
    assert cfg.warnings == [f"{tmp_path / '.aws_env'}: S3_BUCKET is set 2 times (lines 1, 3); the last one counts"]


def test_a_key_close_to_a_known_one_warns_did_you_mean(tmp_path):
    write(tmp_path, "PROJET_NAME=p\nPOSTGRES_HOST=db\n")
    cfg = config.load(environ={}, cwd=tmp_path)
    assert cfg.warnings == [f"{tmp_path / '.aws_env'}: line 1: unknown key PROJET_NAME; did you mean PROJECT_NAME?"]


@pytest.mark.parametrize("how", ["flag", "default"])
def test_a_directory_where_the_file_belongs_says_so(tmp_path, how):
    (tmp_path / ".aws_env").mkdir()
    with pytest.raises(ConfigError, match="is a directory, not a configuration file"):
        config.load(env_file=str(tmp_path / ".aws_env") if how == "flag" else None, environ={}, cwd=tmp_path)


@pytest.mark.parametrize("text", ["[" * 10_000 + "]" * 10_000, '{"a":' * 65 + "1" + "}" * 65])
def test_json_nested_without_bound_is_refused_not_a_recursion_error(tmp_path, text):
    path = write(tmp_path, text, "deep.json")
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        userjson.load_json(path)


def test_json_of_ordinary_depth_and_null_load(tmp_path):
    assert userjson.load_json(write(tmp_path, '{"a": [{"b": 1}]}', "ok.json")) == {"a": [{"b": 1}]}
    assert userjson.load_json(write(tmp_path, "null", "null.json")) is None


def test_a_missing_json_file_suggests_its_example_only_when_there_is_one(tmp_path):
    with pytest.raises(ConfigError) as e:
        userjson.load_json(tmp_path / "ce.json", "compute environment file")
    assert e.value.line().endswith("does not exist; check the path") and "example" not in e.value.line()
    write(tmp_path, "{}", "job-queue.json.example")
    with pytest.raises(ConfigError) as e:
        userjson.load_json(tmp_path / "job-queue.json")
    assert e.value.line().endswith("does not exist; copy job-queue.json.example to job-queue.json")


def test_a_password_inside_a_url_is_masked_whatever_the_key(tmp_path):
    write(tmp_path, "POSTGRES_DB=postgresql://user:pgS3cret-canary@db.example/dirtyduck\nS3_BUCKET=a-b-c\n")
    shown = config.load(environ={}, cwd=tmp_path).masked()
    assert shown["POSTGRES_DB"] == "postgresql://user:****@db.example/dirtyduck" and shown["S3_BUCKET"] == "a-b-c"
    assert "pgS3cret-canary" not in repr(shown)


def test_secret_looking_pairs_inside_build_args_are_masked_in_listings(tmp_path):
    """Before: -i printed BUILD_ARGS as written, NPM_TOKEN=... and all (-b refuses it, -i showed it)."""
    write(tmp_path, "BUILD_ARGS=BASE=x NPM_TOKEN=npmCanary-123 CACHE_KEY=k1\nBUILD_ARGS_PUBLIC=CACHE_KEY\n")
    shown = config.load(environ={}, cwd=tmp_path).masked()
    assert shown["BUILD_ARGS"] == "BASE=x NPM_TOKEN=**** CACHE_KEY=k1"
    assert "npmCanary-123" not in repr(shown)


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"vcpus": ' + "1" * 5000 + "}", "a number is too long (over 4300 digits)"),
        ('{"vcpus": NaN}', "NaN is not a JSON value"),
        ("[-Infinity]", "-Infinity is not a JSON value"),
        ("[1e999]", "1e999 is too large for a number"),
        ('{"name": "\\ud800"}', "a string holds a lone"),
        ('{"\\udfff": 1}', "a string holds a lone"),
    ],
)
def test_json_python_would_take_but_no_aws_api_can_is_one_line(tmp_path, text, words):
    """Before: a 5,000-digit number was a ValueError traceback; NaN, 1e999 and lone surrogates were
    accepted and failed (or were sent) later."""
    path = write(tmp_path, text, "odd.json")
    with pytest.raises(ConfigError) as e:
        userjson.load_json(path)
    assert words in e.value.line() and "\n" not in e.value.line()
    assert e.value.line().startswith(f"{path}: ")


def test_a_surrogate_pair_is_one_character_and_loads(tmp_path):
    assert userjson.load_json(write(tmp_path, '["\\ud83d\\ude00"]', "ok.json")) == ["\U0001F600"]


def test_a_fifo_where_a_file_belongs_is_refused_not_read(tmp_path):
    """Before: reading a FIFO waited for a writer forever (env-overrides.json, credentials-filter, a
    compute environment file), and a FIFO named by --env-file was said not to exist."""
    import os

    os.mkfifo(tmp_path / "pipe.json")
    with pytest.raises(ConfigError, match="is not a regular file"):
        userjson.load_json(tmp_path / "pipe.json", "overrides")
    with pytest.raises(ConfigError, match="configuration file .* is not a regular file"):
        config.load(env_file=str(tmp_path / "pipe.json"), environ={}, cwd=tmp_path)
