"""-b without a real engine: the ECR side against the moto server (through a proxy that counts each
ECR operation), the engine replaced by a recording stand-in (tests/images_support.py), and every
bad input. The real engine and registry: test_images_engine.py."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os

import pytest

from batchdeploy import ui
from batchdeploy.errors import OperationError
from batchdeploy.images.registry import HttpRegistry, LookupUnavailable, Registry
from tests.images_support import FakeEngine, TokenRegistry, make_executable, tree_snapshot

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
PASSWORD = "123456789012-auth-token"  # what moto's GetAuthorizationToken hands out


@pytest.fixture
def fake(tmp_path, moto):
    return FakeEngine(tmp_path / "engine", moto.url)


@pytest.fixture
def ecr_project(project, proxy, fake):
    project.write("Dockerfile", "FROM scratch\nCOPY app.py /\n")
    project.write("app.py", "print(1)\n")
    project.write(".dockerignore", ".aws_env\n.batchdeploy/\n")
    project.env_file(PROJECT_NAME="demo", VERSION="1.0", AWS_REGISTRY=ECR)
    project.env = fake.env(AWS_ENDPOINT_URL=proxy.url)
    return project


def images_state(project):
    return (project.state("images.json") or {}).get("images", {})


def one_error_line(result) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("batchdeploy: error:")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0]
    return errors[0]


def test_first_push_creates_the_repository_logs_in_on_stdin_and_records_the_build(ecr_project, proxy, fake, aws):
    done = ecr_project.run("images", env=ecr_project.env)
    assert done.returncode == 0, done.stderr
    assert proxy.operations == ["DescribeImages", "CreateRepository", "GetAuthorizationToken"]

    entry = images_state(ecr_project)["demo"]
    assert entry["repository"] == f"{ECR}/demo"
    assert entry["tag"].startswith("c-") and len(entry["tag"]) == 18
    assert entry["version"] == "1.0"
    assert done.stdout.startswith(f"pushed: {ECR}/demo:{entry['tag']}@{entry['digest']}")

    ecr = aws.client("ecr")
    repo = ecr.describe_repositories(repositoryNames=["demo"])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "c-*"}]
    tags = {t for d in ecr.describe_images(repositoryName="demo")["imageDetails"] for t in d.get("imageTags", [])}
    assert tags == {entry["tag"], "1.0", "latest"}

    # The password reached the engine on stdin, and nowhere else.
    logins = [c for c in fake.calls() if c["argv"][1] == "login"]
    assert len(logins) == 1
    assert "--password-stdin" in logins[0]["argv"] and logins[0]["argv"][-1] == ECR
    assert logins[0]["stdin"] == PASSWORD + "\n"
    assert not any(PASSWORD in " ".join(c["argv"]) for c in fake.calls())
    assert PASSWORD not in done.stdout + done.stderr
    state = tree_snapshot(ecr_project.path / ".batchdeploy")
    assert not any(PASSWORD.encode() in data for data in state.values())

    # moto's token "expires" in 2015: counted as issued now, good for 12 hours.
    login = ecr_project.state("registry-logins.json")[ECR]
    expires = dt.datetime.fromisoformat(login["expires_at"])
    left = expires - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(hours=11, minutes=50) < left <= dt.timedelta(hours=12)


def test_a_second_run_with_nothing_changed_is_one_look_up_and_no_engine_call(ecr_project, proxy, fake):
    assert ecr_project.run("images", env=ecr_project.env).returncode == 0
    before_calls, before_ops = len(fake.calls()), len(proxy.operations)
    state_before = tree_snapshot(ecr_project.path / ".batchdeploy")

    done = ecr_project.run("images", env=ecr_project.env)
    assert done.returncode == 0, done.stderr
    entry = images_state(ecr_project)["demo"]
    assert done.stdout == f"up to date: {ECR}/demo:{entry['tag']}@{entry['digest']}\n"
    assert proxy.operations[before_ops:] == ["DescribeImages"]
    assert fake.calls()[before_calls:] == []
    assert tree_snapshot(ecr_project.path / ".batchdeploy") == state_before


def test_the_login_is_reused_until_its_token_nears_expiry(ecr_project, proxy, fake):
    assert ecr_project.run("images", env=ecr_project.env).returncode == 0
    first_tag = images_state(ecr_project)["demo"]["tag"]

    ecr_project.write("app.py", "print(2)\n")
    start = len(proxy.operations)
    done = ecr_project.run("images", env=ecr_project.env)
    assert done.returncode == 0, done.stderr
    assert proxy.operations[start:] == ["DescribeImages"]  # no CreateRepository, no GetAuthorizationToken
    assert [c for c in fake.commands() if c == "login"] == ["login"]
    assert images_state(ecr_project)["demo"]["tag"] != first_tag

    # Half an hour left: too little for a long push; log in again.
    logins_file = ecr_project.path / ".batchdeploy" / "registry-logins.json"
    logins = json.loads(logins_file.read_text())
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=30)
    logins[ECR]["expires_at"] = soon.isoformat(timespec="seconds")
    logins_file.write_text(json.dumps(logins))
    ecr_project.write("app.py", "print(3)\n")
    start = len(proxy.operations)
    assert ecr_project.run("images", env=ecr_project.env).returncode == 0
    assert proxy.operations[start:] == ["DescribeImages", "GetAuthorizationToken"]
    assert fake.commands().count("login") == 2


def test_a_recorded_login_the_engine_lost_is_renewed_once(ecr_project, proxy, fake):
    assert ecr_project.run("images", env=ecr_project.env).returncode == 0
    fake.forget_logins()  # a reboot empties podman's auth file under /run
    ecr_project.write("app.py", "print(2)\n")
    start = len(fake.calls())
    done = ecr_project.run("images", env=ecr_project.env)
    assert done.returncode == 0, done.stderr
    assert fake.commands()[start:] == ["build", "push", "login", "push", "tag", "push", "tag", "push"]


def test_content_tags_stay_immutable_in_ecr_while_latest_moves(ecr_project, aws):
    assert ecr_project.run("images", env=ecr_project.env).returncode == 0
    first = images_state(ecr_project)["demo"]
    ecr_project.write("app.py", "print(2)\n")
    assert ecr_project.run("images", env=ecr_project.env).returncode == 0
    second = images_state(ecr_project)["demo"]
    ecr = aws.client("ecr")

    def digest_of(tag):
        return ecr.describe_images(repositoryName="demo", imageIds=[{"imageTag": tag}])["imageDetails"][0]["imageDigest"]

    assert digest_of("latest") == digest_of("1.0") == second["digest"] != first["digest"]
    other = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": []}
    other["config"] = {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "sha256:" + "1" * 64}
    manifest = json.dumps(other)
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    with pytest.raises(Exception, match="AlreadyExists"):  # moto says ImageAlreadyExists, AWS ImageTagAlreadyExists
        ecr.put_image(repositoryName="demo", imageManifest=manifest, imageTag=first["tag"], imageDigest=digest)
    ecr.put_image(repositoryName="demo", imageManifest=manifest, imageTag="latest", imageDigest=digest)


def test_force_rebuilds_without_cache_under_its_own_tag_and_later_runs_keep_it(ecr_project, proxy, fake):
    assert ecr_project.run("images", env=ecr_project.env).returncode == 0
    plain = images_state(ecr_project)["demo"]
    start = len(fake.calls())
    done = ecr_project.run("images", "--force", env=ecr_project.env)
    assert done.returncode == 0, done.stderr
    builds = [c["argv"] for c in fake.calls()[start:] if c["argv"][1] == "build"]
    assert len(builds) == 1 and "--no-cache" in builds[0]
    forced = images_state(ecr_project)["demo"]
    assert forced["tag"].startswith(plain["tag"] + "-f") and forced["digest"] != plain["digest"]

    start_ops = len(proxy.operations)
    done = ecr_project.run("images", env=ecr_project.env)
    assert done.stdout.startswith(f"up to date: {ECR}/demo:{forced['tag']}@{forced['digest']}")
    assert proxy.operations[start_ops:] == ["DescribeImages"]


def test_a_repository_that_cannot_be_created_stops_before_the_build(ecr_project, proxy, fake):
    proxy.add(operation="CreateRepository", status=400, code="AccessDeniedException",
              message="User: arn:aws:iam::123456789012:user/test is not authorized to perform: ecr:CreateRepository")
    done = ecr_project.run("images", env=ecr_project.env)
    assert done.returncode == 1
    line = one_error_line(done)
    assert "cannot create the ECR repository demo" in line and "AccessDeniedException" in line
    assert "IAM" in line
    assert fake.calls() == []
    assert not (ecr_project.path / ".batchdeploy").exists()


def test_a_refused_login_pushes_nothing_and_records_nothing(ecr_project, fake, aws):
    env = {**ecr_project.env, "FAKE_ENGINE_FAIL": "unauthorized"}
    done = ecr_project.run("images", env=env)
    assert done.returncode == 1
    line = one_error_line(done)
    assert f"cannot log in to {ECR}" in line and "invalid username/password" in line
    assert PASSWORD not in done.stderr
    assert "push" not in fake.commands()
    assert images_state(ecr_project) == {}
    assert aws.client("ecr").describe_images(repositoryName="demo")["imageDetails"] == []


@pytest.mark.parametrize("quiet", [False, True])
def test_a_failing_build_shows_the_engines_last_lines_and_pushes_nothing(ecr_project, fake, quiet):
    assert ecr_project.run("images", env=ecr_project.env).returncode == 0
    state_before = tree_snapshot(ecr_project.path / ".batchdeploy")
    ecr_project.write("app.py", "print(2)\n")
    start = len(fake.calls())
    args = ["--quiet", "images"] if quiet else ["images"]
    done = ecr_project.run(*args, env={**ecr_project.env, "FAKE_ENGINE_FAIL": "build"})
    assert done.returncode == 1
    line = one_error_line(done)
    assert "cannot build" in line and "fake build failed on purpose" in line
    assert "fake build line 29" in done.stderr
    # Streamed without --quiet; with --quiet only the tail is shown.
    assert ("fake build line 0\n" in done.stderr) is (not quiet)
    assert done.stdout == ""
    assert fake.commands()[start:] == ["build"]
    assert tree_snapshot(ecr_project.path / ".batchdeploy") == state_before


def test_quiet_prints_only_the_result(ecr_project):
    done = ecr_project.run("--quiet", "images", env=ecr_project.env)
    assert done.returncode == 0
    assert done.stderr == ""
    assert done.stdout.startswith("pushed: ")


def test_json_output_names_tag_digest_and_action(ecr_project):
    ecr_project.run("images", env=ecr_project.env)
    done = ecr_project.run("--output", "json", "images", env=ecr_project.env)
    data = json.loads(done.stdout)
    entry = images_state(ecr_project)["demo"]
    assert data["images"] == [
        {
            "action": "up to date",
            "digest": entry["digest"],
            "image": "demo",
            "repository": f"{ECR}/demo",
            "tag": entry["tag"],
            "tags_pushed": [],
        }
    ]
    assert data["registry_lookups"] == 1


# -- bad input: one line, exit 2, nothing touched ------------------------------------------------


def test_a_missing_registry_is_a_configuration_error(project, moto):
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo")
    done = project.run("images")
    assert done.returncode == 2
    assert "AWS_REGISTRY is missing" in one_error_line(done)
    assert not (project.path / ".batchdeploy").exists()


def test_no_dockerfile_in_the_context(project, moto, fake):
    project.write("worker/app.py", "1\n")
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo", AWS_REGISTRY="127.0.0.1:1", IMAGES="demo=. worker=worker")
    done = project.run("images", env=fake.env())
    assert done.returncode == 2
    line = one_error_line(done)
    assert "image worker: no Dockerfile in" in line and "my project/worker" in line
    assert fake.calls() == []


@pytest.mark.parametrize(
    "images,message",
    [
        ("Demo=.", "must be lowercase"),
        ("demo", "IMAGES='demo' is malformed"),
        ("demo=. demo=other", "named twice"),
        ("demo=missing", "does not exist"),
    ],
)
def test_malformed_images(project, moto, fake, images, message):
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo", AWS_REGISTRY="127.0.0.1:1", IMAGES=images)
    done = project.run("images", env=fake.env())
    assert done.returncode == 2
    assert message in one_error_line(done)


def test_an_unknown_image_flag(project, moto, fake):
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo", AWS_REGISTRY="127.0.0.1:1")
    done = project.run("images", "--image", "nope", env=fake.env())
    assert done.returncode == 2
    assert "--image nope: not in IMAGES" in one_error_line(done)


def test_malformed_build_args(project, moto, fake):
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo", AWS_REGISTRY="127.0.0.1:1", BUILD_ARGS="1X=2")
    done = project.run("images", env=fake.env())
    assert done.returncode == 2
    assert "BUILD_ARGS" in one_error_line(done)


def test_build_secrets_with_a_docker_that_has_no_buildkit_stop_before_the_build(project, moto, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    # Docker's classic CLI: `docker buildx` is an unknown command, `build --secret` an unknown flag.
    make_executable(bin_dir / "docker", f'#!/bin/sh\necho "$1" >> {calls}\n[ "$1" = info ] || exit 1\n')
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo", AWS_REGISTRY="127.0.0.1:1", BUILD_SECRETS="NPM_TOKEN")
    done = project.run("images", env={"PATH": str(bin_dir), "CONTAINER_CLI": "docker", "NPM_TOKEN": "canary-n-123456"})
    assert done.returncode == 2
    assert one_error_line(done) == (
        "batchdeploy: error: BUILD_SECRETS needs BuildKit, and docker has no buildx component; "
        "install docker buildx (https://docs.docker.com/go/buildx/) or set CONTAINER_CLI=podman"
    )
    assert calls.read_text().split() == ["buildx"]  # nothing built
    assert "canary-n-123456" not in done.stdout + done.stderr


def test_no_engine_at_all_says_what_to_install(project, moto, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo", AWS_REGISTRY="127.0.0.1:1")
    env = {k: v for k, v in os.environ.items() if k != "CONTAINER_CLI"}
    done = project.run("images", env={**env, "PATH": str(empty)})
    assert done.returncode == 2
    line = one_error_line(done)
    assert "no container engine" in line and "install Docker" in line and "podman" in line


def test_a_docker_cli_without_an_engine_and_no_podman(project, moto, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make_executable(bin_dir / "docker", "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo", AWS_REGISTRY="127.0.0.1:1")
    done = project.run("images", env={"PATH": str(bin_dir), "CONTAINER_CLI": ""})
    assert done.returncode == 2
    assert "`docker info` fails" in one_error_line(done)


def test_a_container_cli_that_is_not_there(project, moto):
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo", AWS_REGISTRY="127.0.0.1:1", CONTAINER_CLI="nerdctl-missing")
    done = project.run("images")
    assert done.returncode == 2
    assert "CONTAINER_CLI=nerdctl-missing is not an executable on PATH" in one_error_line(done)


def test_an_unreachable_registry_fails_before_building(project, moto, fake):
    project.write("Dockerfile", "FROM scratch\n")
    project.env_file(PROJECT_NAME="demo", AWS_REGISTRY="127.0.0.1:9")
    done = project.run("images", env=fake.env())
    assert done.returncode == 1
    assert "cannot reach the registry 127.0.0.1:9" in one_error_line(done)
    assert fake.calls() == []


# -- the registry look-up's authentication, against real HTTP ---------------------------------------


def auth_env(tmp_path, host, user="robot", password="robot-password-123"):
    auth = tmp_path / "auth.json"
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    auth.write_text(json.dumps({"auths": {host: {"auth": token}}}))
    return {"REGISTRY_AUTH_FILE": str(auth), "HOME": str(tmp_path)}


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_the_look_up_logs_in_with_what_the_engine_stored(tmp_path, scheme):
    server = TokenRegistry("robot", "robot-password-123", scheme)
    try:
        reg = HttpRegistry(Registry.parse(server.host), "podman", auth_env(tmp_path, server.host))
        assert reg.manifest_digest("app", "t1") == "sha256:" + "a" * 64
        assert reg.manifest_digest("app", "t2") is None  # the token is kept for the next look-up
        assert reg.requests == (4 if scheme == "bearer" else 3)
        with pytest.raises(OperationError, match="answered HTTP 500"):
            reg.manifest_digest("app", "broken")
    finally:
        server.close()
    assert ui.redact("robot-password-123 tok-good-123456") == "**** ****"


def test_a_look_up_without_credentials_says_it_cannot_tell(tmp_path):
    server = TokenRegistry("robot", "robot-password-123")
    try:
        reg = HttpRegistry(Registry.parse(server.host), "podman", {"HOME": str(tmp_path)})
        with pytest.raises(LookupUnavailable):
            reg.manifest_digest("app", "t1")
    finally:
        server.close()


def test_a_registry_that_leaves_out_the_digest_header_is_hashed(tmp_path):
    server = TokenRegistry("robot", "robot-password-123", "basic", digest_header=False)
    try:
        reg = HttpRegistry(Registry.parse(server.host), "docker", {"DOCKER_CONFIG": str(tmp_path)})
        (tmp_path / "config.json").write_text(
            json.dumps({"auths": {server.host: {"auth": base64.b64encode(b"robot:robot-password-123").decode()}}})
        )
        assert reg.manifest_digest("app", "t1") == "sha256:" + hashlib.sha256(TokenRegistry.MANIFEST).hexdigest()
    finally:
        server.close()


def test_a_registry_that_will_not_say_is_built_and_pushed_with_a_warning(project, moto, fake, tmp_path):
    server = TokenRegistry("robot", "robot-password-123")
    try:
        project.write("Dockerfile", "FROM scratch\n")
        project.write(".dockerignore", ".aws_env\n.batchdeploy/\n")
        project.env_file(PROJECT_NAME="demo", AWS_REGISTRY=server.host)
        done = project.run("images", env=fake.env(HOME=str(tmp_path), FAKE_ENGINE_FAIL="push"))
    finally:
        server.close()
    assert f"warning: cannot ask {server.host} for demo:c-" in done.stderr
    assert fake.commands() == ["build", "push"]
    assert done.returncode == 1
    assert f"cannot push {server.host}/demo:c-" in one_error_line(done)
    assert not (project.path / ".batchdeploy" / "images.json").exists()
