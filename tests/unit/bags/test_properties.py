"""pegasus properties: Java .properties syntax as pegasus users write it, pegasus's layers, and the one
precedence rule (flag > property > a one-line error naming the key and the flag)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchdeploy import errors
from batchdeploy.bags.pegasus_cli import parse
from batchdeploy.bags.properties import load, parse_properties, read_properties, settings
from batchdeploy.errors import ConfigError


def one_line(exc) -> str:
    assert exc.value.exit_code == errors.USAGE
    assert "\n" not in exc.value.line()
    return exc.value.line()


def test_the_seeds_pegasusrc_reads():
    """Seed 004's conf/pegasusrc, with the account filled in."""
    props = parse_properties("pegasus.aws.region=us-west-2\npegasus.aws.account=405596411149\n", "pegasusrc")
    assert props == {"pegasus.aws.region": "us-west-2", "pegasus.aws.account": "405596411149"}


def test_java_properties_syntax():
    text = (
        "# a comment \\\n"  # a comment line never continues
        "pegasus.aws.region=us-west-2\n"
        "   ! another comment\n"
        "\n"
        "pegasus.aws.account : 1234\\\n"
        "      5678\n"  # continuation: the next line's leading blanks dropped
        "pegasus.aws.batch.prefix   my\\ prefix\n"  # key, blanks, value; an escaped blank
        "key\\=with\\:seps = a\\u0041\\\\b\\tc \n"  # escapes in key and value; trailing blank kept
        "even\\\\\n"  # an even number of backslashes does not continue
        "lonely\r\n"
        "dup=1\rdup=2"  # CR line ends too; the last repeated key wins
    )
    assert parse_properties(text, "f") == {
        "pegasus.aws.region": "us-west-2", "pegasus.aws.account": "12345678", "pegasus.aws.batch.prefix": "my prefix",
        "key=with:seps": "aA\\b\tc ", "even\\": "", "lonely": "", "dup": "2",
    }


@pytest.mark.parametrize("text, words", [
    ("a=1\nb=x\\u00zz\n", "f line 2: malformed \\uxxxx escape '\\\\u00zz'"),
    ("a=1\n\\u12", "f line 2: malformed \\uxxxx escape"),
])
def test_a_malformed_escape_names_its_line(text, words):
    with pytest.raises(ConfigError) as e:
        parse_properties(text, "f")
    assert words in one_line(e)


def test_a_file_missing_a_directory_or_not_utf8_is_one_line(tmp_path):
    for path, words in [(tmp_path / "nope", "is missing"), (tmp_path, "is not a file")]:
        with pytest.raises(ConfigError) as e:
            read_properties(path)
        assert words in one_line(e)
    bad = tmp_path / "bad"
    bad.write_bytes(b"a=1\nb=\xff\n")
    with pytest.raises(ConfigError) as e:
        read_properties(bad)
    assert "bad line 2: not UTF-8" in one_line(e)


def test_layers_later_winning_and_only_the_pegasus_subset(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir(), cwd.mkdir()
    (home / ".pegasusrc").write_text("pegasus.aws.region=r-home\npegasus.aws.account=1\nother.key=x\n")
    (cwd / "pegasus.properties").write_text("pegasus.aws.account=2\npegasus.aws.batch.prefix=p-cwd\n")
    (cwd / "conf").write_text("pegasus.aws.batch.prefix=p-conf\npegasus.=odd\n")
    environ = {"_PEGASUS__AWS__BATCH__JOB_QUEUE": "q-env", "PEGASUS_HOME": "/x", "PATH": "/bin"}
    assert load("conf", home, cwd, environ) == {
        "aws.region": "r-home", "aws.account": "2", "aws.batch.prefix": "p-conf", "aws.batch.job_queue": "q-env",
    }
    assert load(None, None, cwd, {}) == {"aws.account": "2", "aws.batch.prefix": "p-cwd"}


def test_a_missing_conf_file_is_refused(tmp_path):
    """pegasus skips a --conf file that does not exist; a typo then runs with other values."""
    with pytest.raises(ConfigError) as e:
        load("nope.properties", None, tmp_path, {})
    assert "is missing" in one_line(e)


PROPS = {"aws.region": "us-west-2", "aws.account": "405596411149", "aws.batch.prefix": "from-props",
         "aws.batch.job_definition": "jd", "aws.batch.compute_environment": "ce", "aws.batch.s3_bucket": "s3://b/k"}


def test_flag_wins_over_property_and_property_fills_the_rest():
    s = settings(parse(["-p", "from-flag", "-j", "jd.json", "-m", "P", "a.json"]), PROPS)
    assert (s.mode, s.prefix, s.job_definition, s.compute_environment) == ("run", "from-flag", "jd.json", "ce")
    assert (s.region, s.account, s.s3, s.job_queue, s.merge_logs) == ("us-west-2", "405596411149", "s3://b/k", None, "P")
    assert s.submit_files == ("a.json",)


def test_an_empty_property_counts_as_not_given():
    with pytest.raises(ConfigError) as e:
        settings(parse(["a.json"]), {**PROPS, "aws.region": ""})
    assert one_line(e).startswith("Unable to determine value of pegasus.aws.region;")


@pytest.mark.parametrize("argv, props, words", [
    (["a.json"], {}, "Unable to determine value of pegasus.aws.batch.prefix, pegasus.aws.region, pegasus.aws.account,"
                     " pegasus.aws.batch.job_definition, pegasus.aws.batch.compute_environment; either specify it in the"
                     " properties (-C) or set the command line option -p/--prefix, -r/--region, -a/--account,"
                     " -j/--job-definition, --ce/--compute-environment"),
    (["-p", "x", "a.json"], {"aws.region": "r", "aws.account": "1", "aws.batch.job_definition": "jd"},
     "Unable to determine value of pegasus.aws.batch.compute_environment; either specify it in the properties (-C) "
     "or set the command line option --ce/--compute-environment"),
    (["-c", "-p", "x"], {"aws.region": "r"}, "Unable to determine value of pegasus.aws.account;"),
])
def test_required_values_missing_are_named_with_their_flags(argv, props, words):
    with pytest.raises(ConfigError) as e:
        settings(parse(argv), props)
    assert words in one_line(e)


def test_create_and_delete_need_no_job_definition_or_compute_environment():
    base = {"aws.region": "r", "aws.account": "1"}
    assert settings(parse(["-c", "-p", "x"]), base).mode == "create"
    assert settings(parse(["-d", "-p", "x", "-q", "q"]), base).job_queue == "q"


def test_the_seeds_conf_file_through_load_and_settings(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "pegasusrc").write_text("pegasus.aws.region=us-west-2\npegasus.aws.account=405596411149\n")
    opts = parse("--conf ./conf/pegasusrc --prefix pegasus-awsbatch-example --create".split())
    s = settings(opts, load(opts.conf, None, Path(tmp_path), {}))
    assert (s.prefix, s.region, s.account, s.mode) == ("pegasus-awsbatch-example", "us-west-2", "405596411149", "create")


def test_a_run_whose_every_task_is_placed_needs_no_job_definition_or_compute_environment():
    """batchdeploy honours a task's own jobDefinition and jobQueue; pegasus overrides them, so needs both."""
    s = settings(parse(["-p", "x", "a.json"]), {"aws.region": "r", "aws.account": "1"}, every_task_placed=True)
    assert (s.job_definition, s.compute_environment) == (None, None)


def test_the_corners_as_java_properties_load_reads_them():
    """Each expected value is what OpenJDK 17's java.util.Properties.load printed for this text."""
    text = ("cont=a\\\n# not a comment here\n"  # a continued line takes the next one, '#' and all
            "tabs\t\t=\t v\n"
            "x:\\\n\\\n   end\n"  # two continuations in a row, the middle line empty
            "odd\\\\\\\nnext\n")  # three backslashes: one escaped, one continues
    assert parse_properties(text, "f") == {"cont": "a# not a comment here", "tabs": "v", "x": "end", "odd\\next": ""}
