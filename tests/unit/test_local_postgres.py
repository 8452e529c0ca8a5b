"""The local stack's PostgreSQL part (issue #25): the pure parts. Starting, stopping and `env` against a
real server are in tests/bats/local_stack.bats; the example end to end in test_triage_chapter.py."""

from __future__ import annotations

import os
import subprocess

import pytest

from batchdeploy.errors import ConfigError
from batchdeploy.local import postgres


@pytest.mark.parametrize("value, wanted", [("yes", True), ("TRUE", True), ("1", True), (" on ", True),
                                           ("no", False), ("", False), (None, False), ("off", False)])
def test_local_postgres_takes_yes_or_no(value, wanted):
    assert postgres.wanted_by(value) is wanted


def test_any_other_local_postgres_value_is_a_config_error():
    with pytest.raises(ConfigError, match="LOCAL_POSTGRES=maybe: say yes or no"):
        postgres.wanted_by("maybe")


def fake_bin(folder, tools=("postgres", "initdb", "pg_isready", "psql")):
    folder.mkdir(parents=True)
    for tool in tools:
        (folder / tool).write_text("#!/bin/sh\n")
        (folder / tool).chmod(0o755)
    return folder


def test_bindir_takes_the_named_folder_when_it_has_every_tool(tmp_path):
    folder = fake_bin(tmp_path / "bin")
    assert postgres.bindir({"BATCHDEPLOY_POSTGRES_BIN": str(folder)}) == folder


def test_a_named_folder_without_the_server_is_one_line_naming_it_and_the_package(tmp_path):
    folder = fake_bin(tmp_path / "bin", tools=("psql",))
    with pytest.raises(ConfigError) as caught:
        postgres.bindir({"BATCHDEPLOY_POSTGRES_BIN": str(folder)})
    line = caught.value.line()
    assert f"BATCHDEPLOY_POSTGRES_BIN={folder} has no postgres" in line and "apt-get install postgresql" in line


def test_not_root_runs_the_server_as_itself(tmp_path):
    server = postgres.Server(tmp_path, tmp_path / "bin", uid=1000)
    assert server.account() is None
    assert server.as_server(["postgres", "-D", "x"]) == ["postgres", "-D", "x"]


def test_the_server_listens_on_loopback_only_with_no_socket_and_logs_no_statement(tmp_path):
    server = postgres.Server(tmp_path, tmp_path / "bin", uid=1000)
    (tmp_path / "run").mkdir()
    server.port_file.write_text("5999\n")
    argv = server.command()
    assert argv[:5] == [str(tmp_path / "bin" / "postgres"), "-D", str(tmp_path / "postgres" / "data"), "-p", "5999"]
    settings = [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]
    assert settings == ["listen_addresses=127.0.0.1", "unix_socket_directories=", "log_statement=none",
                        "log_min_error_statement=panic"]


def test_exports_name_the_connection_and_never_the_password(tmp_path):
    server = postgres.Server(tmp_path, tmp_path / "bin", uid=1000)
    (tmp_path / "run").mkdir()
    server.port_file.write_text("5999\n")
    assert dict(server.exports()) == {
        "BATCHDEPLOY_POSTGRES_HOST": "127.0.0.1", "BATCHDEPLOY_POSTGRES_PORT": "5999",
        "BATCHDEPLOY_POSTGRES_USER": "batchdeploy", "BATCHDEPLOY_POSTGRES_DB": "batchdeploy",
        "PGHOST": "127.0.0.1", "PGPORT": "5999", "PGUSER": "batchdeploy", "PGDATABASE": "batchdeploy",
        "PGPASSFILE": str(tmp_path / "conf" / "pgpass"),
    }


def test_the_password_line_reads_the_file_when_sourced_whatever_the_path(tmp_path):
    state = tmp_path / "it's a folder with spaces"
    server = postgres.Server(state, tmp_path / "bin", uid=1000)
    server.password_file.parent.mkdir(parents=True)
    server.password_file.write_text("s3cr$t'`x\n")
    line = server.password_export()
    assert "s3cr" not in line
    done = subprocess.run(["bash", "-c", line + 'printf %s "$BATCHDEPLOY_POSTGRES_PASSWORD"'],
                          capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]})
    assert done.stdout == "s3cr$t'`x"


def test_pgpass_escapes_colons_and_backslashes(tmp_path):
    server = postgres.Server(tmp_path, tmp_path / "bin", uid=1000)
    server.password_file.parent.mkdir(parents=True)
    server.password_file.write_text("a:b\\c\n")
    server._write_pgpass()
    assert server.pgpass.read_text() == "127.0.0.1:*:*:batchdeploy:a\\:b\\\\c\n"
    assert server.pgpass.stat().st_mode & 0o777 == 0o600
