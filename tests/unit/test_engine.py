"""The container engine: which one is chosen, and how its output is shown (batchdeploy.engine)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from batchdeploy import engine, ui
from batchdeploy.errors import ConfigError, OperationError

# -- engine choice (tiny scripts on a private PATH stand in for the CLIs) --------------------------


def script(folder: Path, name: str, exit_code: int) -> Path:
    p = folder / name
    p.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    p.chmod(0o755)
    return p


def test_docker_when_its_engine_answers(tmp_path):
    script(tmp_path, "docker", 0)
    script(tmp_path, "podman", 0)
    e = engine.choose(None, {"PATH": str(tmp_path)})
    assert (e.name, e.flavor) == ("docker", "docker")


def test_podman_when_docker_does_not_answer(tmp_path):
    script(tmp_path, "docker", 1)
    script(tmp_path, "podman", 0)
    e = engine.choose(None, {"PATH": str(tmp_path)})
    assert (e.name, e.flavor) == ("podman", "podman")


def test_container_cli_chooses_and_names_its_flavor(tmp_path):
    script(tmp_path, "docker", 0)
    script(tmp_path, "podman-remote", 0)
    assert engine.choose("podman-remote", {"PATH": str(tmp_path)}).flavor == "podman"
    assert engine.choose(str(tmp_path / "docker"), {"PATH": ""}).flavor == "docker"
    with pytest.raises(ConfigError, match="CONTAINER_CLI=nerdctl is not an executable"):
        engine.choose("nerdctl", {"PATH": str(tmp_path)})


def test_neither_engine(tmp_path):
    with pytest.raises(ConfigError, match="no container engine") as err:
        engine.choose(None, {"PATH": str(tmp_path)})
    assert err.value.exit_code == 2 and "apt-get install podman" in err.value.line()


# -- how the engine's output is shown (a shell stands in for the engine's CLI) ---------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


def sh_engine(quiet=False, terminal=False):
    out = ui.Output(quiet=quiet, stdout=io.StringIO(), stderr=Terminal() if terminal else io.StringIO())
    return engine.Engine("/bin/sh", "docker", {"PATH": "/usr/bin:/bin"}, out), out


def test_build_output_is_streamed_line_by_line():
    e, out = sh_engine()
    e.run(["-c", "echo step 1; echo step 2 >&2"], "build x")
    assert out.stderr.getvalue() == "  step 1\n  step 2\n"
    assert out.stdout.getvalue() == ""


def test_push_progress_on_a_terminal_is_one_line_rewritten_in_place():
    e, out = sh_engine(terminal=True)
    e.run(["-c", r"printf 'layer 10%%\rlayer 50%%\rlayer 100%%\n'; echo done"], "push x", display="progress")
    text = out.stderr.getvalue()
    assert "\r\x1b[K  layer 100%" in text and "\r\x1b[K  done" in text
    assert "\n  layer" not in text  # no scrolling log on a terminal


def test_quiet_hides_everything_until_a_failure_then_shows_the_tail():
    e, out = sh_engine(quiet=True)
    e.run(["-c", "echo fine"], "build x")
    assert out.stderr.getvalue() == ""
    with pytest.raises(OperationError) as err:
        e.run(["-c", "for i in $(seq 1 30); do echo line $i; done; echo boom; exit 3"], "build x")
    shown = out.stderr.getvalue().splitlines()
    assert shown[0] == "  line 12" and shown[-1] == "  boom" and len(shown) == engine.TAIL_LINES
    assert err.value.line() == "cannot build x: sh failed: boom"


def test_build_args_travel_in_the_environment_not_on_the_command_line(tmp_path):
    log = tmp_path / "argv"
    fake = tmp_path / "docker"
    fake.write_text(f'#!/bin/sh\necho "$@" > {log}\necho "A=$A" >> {log}\nprintf sha256:1 > "$7"\n')
    fake.chmod(0o755)
    e = engine.Engine(str(fake), "docker", {"PATH": "/usr/bin:/bin"})
    assert e.build(tmp_path, tmp_path / "Dockerfile", "r/app:c-1", {"A": "secret-value-1"}) == "sha256:1"
    argv, env_line = log.read_text().splitlines()
    assert "--build-arg A" in argv and "secret-value-1" not in argv
    assert env_line == "A=secret-value-1"


def test_build_secrets_travel_in_the_environment_under_names_of_our_own(tmp_path):
    log = tmp_path / "log"
    fake = tmp_path / "podman"
    # The stand-in looks up each --secret's env= variable while the build runs.
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {log}\n'
        'while [ $# -gt 0 ]; do\n'
        '  case "$1" in\n'
        f'    --secret) var="${{2#*env=}}"; printenv "$var" >> {log};;\n'
        '    --iidfile) printf sha256:2 > "$2";;\n'
        '  esac\n'
        '  shift\n'
        'done\n'
        f'printenv NPM_TOKEN >> {log} || echo "no NPM_TOKEN" >> {log}\n'
    )
    fake.chmod(0o755)
    e = engine.Engine(str(fake), "podman", {"PATH": "/usr/bin:/bin"})
    secrets = {"NPM_TOKEN": "canary-npm-0123456789", "A_KEY": "canary-key-9876543210"}
    assert e.build(tmp_path, tmp_path / "Dockerfile", "r/app:c-1", {"B": "1"}, secrets=secrets) == "sha256:2"
    argv, *rest = log.read_text().splitlines()
    assert "canary" not in argv
    assert "--secret id=A_KEY,env=BATCHDEPLOY_BUILD_SECRET_0 --secret id=NPM_TOKEN,env=BATCHDEPLOY_BUILD_SECRET_1" in argv
    assert rest == ["canary-key-9876543210", "canary-npm-0123456789", "no NPM_TOKEN"]
    assert e.environ == {"PATH": "/usr/bin:/bin"}  # only that one process had them


def test_a_go_value_dump_is_cut_from_what_is_shown_unless_debugging():
    dump = 'Error: bad step &imagebuilder.Step{Env:[]string{"PATH=/bin"}, Original:"FORM x"}'
    script = f"echo '{dump}'; echo 'time=\"t\" level=error msg=\"+(UNHANDLED LOGLEVEL) &a.B{{x}}\"'; exit 1"
    for environ, shown in [
        ({}, ["  Error: bad step"]),
        ({"BATCHDEPLOY_DEBUG": "1"}, [f"  {dump}", '  time="t" level=error msg="+(UNHANDLED LOGLEVEL) &a.B{x}"']),
    ]:
        out = ui.Output(stdout=io.StringIO(), stderr=io.StringIO())
        e = engine.Engine("/bin/sh", "podman", {"PATH": "/usr/bin:/bin", **environ}, out)
        with pytest.raises(OperationError) as err:
            e.run(["-c", script], "build x")
        assert out.stderr.getvalue().splitlines() == shown
        assert err.value.line() == "cannot build x: sh failed: " + shown[-1].strip()


def test_build_secrets_need_buildkit_on_docker(tmp_path):
    with_buildx = script(tmp_path, "docker", 0)
    assert engine.build_secrets_supported(engine.Engine(str(with_buildx), "docker", {"PATH": ""}))
    (tmp_path / "old").mkdir()
    classic = script(tmp_path / "old", "docker", 1)  # `docker buildx version`: unknown command
    assert not engine.build_secrets_supported(engine.Engine(str(classic), "docker", {"PATH": ""}))
    assert engine.build_secrets_supported(engine.Engine(str(classic), "podman", {"PATH": ""}))
