"""batchdeploy.local's pure parts: settings from the environment, the registry's and podman's files,
the engine record, the export lines, and what the package may import."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from batchdeploy.errors import ConfigError
from batchdeploy.local import base_image, podman, registry
from batchdeploy.local.stack import REPO_ROOT, Settings, shell_exports

ROOT = Path(__file__).resolve().parents[2]


def test_settings_defaults_and_overrides():
    s = Settings.from_environ({})
    assert s.state == REPO_ROOT / ".local-stack" and s.engine == "auto" and s.up_timeout == 60
    assert s.lock_timeout == 300 and s.mirror == base_image.MIRROR and not s.skip_base_image
    s = Settings.from_environ({"BATCHDEPLOY_LOCAL_DIR": "/a b", "BATCHDEPLOY_UP_TIMEOUT": "0",
                               "BATCHDEPLOY_SKIP_BASE_IMAGE": "1", "BATCHDEPLOY_PYTHON": "/p y/python"})
    assert s.state == Path("/a b") and s.up_timeout == 0 and s.skip_base_image and s.python == "/p y/python"


def test_a_timeout_that_is_not_a_number_is_a_usage_error():
    with pytest.raises(ConfigError, match="BATCHDEPLOY_UP_TIMEOUT must be a number of seconds, not 'soon'"):
        Settings.from_environ({"BATCHDEPLOY_UP_TIMEOUT": "soon"})


def test_the_registry_listens_on_loopback_and_keeps_its_secret(tmp_path):
    conf, run = tmp_path / "conf", tmp_path / "run"
    conf.mkdir()
    run.mkdir()
    assert registry.write_config(conf, run, tmp_path / "reg istry", 5000) is True
    text = (conf / "registry.yml").read_text()
    assert "addr: 127.0.0.1:5000" in text and f'rootdirectory: "{tmp_path}/reg istry"' in text
    secret = (run / "registry.secret").read_text()
    assert len(secret) == 32 and f'secret: "{secret}"' in text
    # same port: registries.conf unchanged, same secret; a new port changes both files
    assert registry.write_config(conf, run, tmp_path / "reg istry", 5000) is False
    assert registry.write_config(conf, run, tmp_path / "reg istry", 5001) is True
    assert (conf / "registries.conf").read_text() == '[[registry]]\nlocation = "127.0.0.1:5001"\ninsecure = true\n'
    assert (run / "registry.secret").read_text() == secret


def test_podman_runs_with_runc_and_lower_ulimits():
    assert 'runtime = "runc"' in podman.CONTAINERS_CONF
    assert 'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]' in podman.CONTAINERS_CONF


def test_the_engine_record_survives_a_space_in_the_socket_path(tmp_path):
    engine = podman.Engine("podman", "unix:///s p/run/podman.sock", tmp_path)
    assert podman.recorded(engine.record(), tmp_path) == engine
    assert podman.recorded("", tmp_path) is None and podman.recorded("lxc x", tmp_path) is None
    assert engine.conf_env()["CONTAINERS_CONF"] == str(tmp_path / "containers.conf")
    assert podman.Engine("docker", "unix:///d.sock", tmp_path).conf_env() == {}


def test_an_unknown_engine_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigError, match="BATCHDEPLOY_ENGINE must be auto, docker or podman, not 'lxc'"):
        podman.choose("lxc", tmp_path / "s.sock", tmp_path)


def test_export_lines_come_back_whole_when_a_shell_sources_them():
    lines = shell_exports([("DOCKER_HOST", "unix:///a b/it's.sock"), ("X", "$HOME `x`")])
    done = subprocess.run(["bash", "-c", 'source /dev/stdin; printf "%s|" "$DOCKER_HOST" "$X"'], input=lines,
                          capture_output=True, text=True, check=True)
    assert done.stdout == "unix:///a b/it's.sock|$HOME `x`|"


def test_the_base_image_is_built_offline_and_imported_with_python_as_its_command(tmp_path):
    argv = base_image.mmdebstrap_command(tmp_path / "b.tar.partial.1", "http://mirror/debian")
    assert "--format=tar" in argv and argv[-3:] == ["bookworm", str(tmp_path / "b.tar.partial.1"), "http://mirror/debian"]
    assert base_image.import_args(tmp_path / "b.tar")[-2:] == [str(tmp_path / "b.tar"), base_image.NAME]


SHARED = {"aws", "config", "errors", "state", "polling", "ui", "engine", "local"}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_local_package_imports_only_the_shared_modules():
    offenders = {
        f"{p.name}: {name}"
        for p in (ROOT / "batchdeploy" / "local").glob("*.py")
        for name in imported(p)
        if name.startswith("batchdeploy.") and name.split(".")[1] not in SHARED
    }
    assert offenders == set()


def test_test_fixtures_never_import_bench():
    fixtures = [p for p in (ROOT / "tests").rglob("*.py") if not p.name.startswith("test_bench")]
    offenders = [str(p.relative_to(ROOT)) for p in fixtures if any(n.split(".")[0] == "bench" for n in imported(p))]
    assert offenders == []
