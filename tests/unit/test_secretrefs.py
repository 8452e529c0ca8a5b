"""SECRETS' pure parts: the names, the references in a definition, and the overrides screened."""

import pytest

from batchdeploy.aws.ssm import arn_of, parameter_name
from batchdeploy.config import Config
from batchdeploy.errors import ConfigError
from batchdeploy.jobs import secretrefs


class Notes:
    def __init__(self):
        self.lines = []

    def note(self, text):
        self.lines.append(("note", text))

    def warn(self, text):
        self.lines.append(("warn", text))


def cfg(**values):
    from pathlib import Path

    return Config(values=values, sources={}, env_file=None, project_dir=Path("."))


def test_names_are_split_on_commas_and_spaces_and_checked():
    assert secretrefs.listed(cfg(SECRETS="POSTGRES_PASSWORD, API_TOKEN API_TOKEN")) == ["POSTGRES_PASSWORD", "API_TOKEN"]
    assert secretrefs.listed(cfg()) == []
    with pytest.raises(ConfigError, match="'AWS_BATCH_X': not an environment variable name"):
        secretrefs.listed(cfg(SECRETS="AWS_BATCH_X"))


def test_every_key_without_a_value_is_named_at_once():
    with pytest.raises(ConfigError, match="SECRETS lists A, B but they have no value"):
        secretrefs.values(cfg(SECRETS="A,B,C", C="x"), ["A", "B", "C"])


def test_references_go_into_container_properties_and_a_name_given_twice_is_refused():
    defn = {"jobDefinitionName": "d", "containerProperties": {"image": "i", "secrets": [{"name": "K", "valueFrom": "a"}]}}
    out = secretrefs.with_references(defn, {"PW": "arn:aws:ssm:r:1:parameter/x"}, "job-definition.json")
    assert out["containerProperties"]["secrets"] == [{"name": "K", "valueFrom": "a"},
                                                     {"name": "PW", "valueFrom": "arn:aws:ssm:r:1:parameter/x"}]
    assert "secrets" not in defn["containerProperties"] or len(defn["containerProperties"]["secrets"]) == 1
    with_env = {"containerProperties": {"environment": [{"name": "PW", "value": "x"}]}}
    with pytest.raises(ConfigError, match="PW listed in SECRETS is also set in the file"):
        secretrefs.with_references(with_env, {"PW": "arn"}, "job-definition.json")


def test_overrides_lose_what_secrets_gives_and_warn_about_a_plain_secret():
    notes = Notes()
    overrides = {"environment": [{"name": "POSTGRES_PASSWORD", "value": "pw"}, {"name": "API_TOKEN", "value": "t"},
                                 {"name": "DB_TOKEN", "value": ""}, {"name": "HOST", "value": "h"}]}
    kept = secretrefs.screen_overrides(overrides, ["POSTGRES_PASSWORD"], "env-overrides.json", notes)
    assert [e["name"] for e in kept["environment"]] == ["API_TOKEN", "DB_TOKEN", "HOST"]
    assert [kind for kind, _ in notes.lines] == ["note", "warn"]  # an empty value is no secret shown
    assert "API_TOKEN has a value" in notes.lines[1][1] and "SECRETS=API_TOKEN" in notes.lines[1][1]


def test_parameter_names_and_arns():
    assert parameter_name("demo", "dev", "PW") == "/batchdeploy/demo/dev/PW"
    assert arn_of("aws", "us-east-1", "123456789012", "/batchdeploy/demo/dev/PW") == (
        "arn:aws:ssm:us-east-1:123456789012:parameter/batchdeploy/demo/dev/PW")
