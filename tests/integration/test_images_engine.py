"""-b with a real container engine and a real registry: the local stack's (scripts/local-stack.sh).

Images are built `FROM` a scratch-like image made here in a blink (`import` of a tar holding one
file), so nothing is pulled and no base image is needed. Each test uses its own repository name.
Skipped, with the local stack's own reason, where no container engine can run.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from batchdeploy.engine import choose
from batchdeploy.errors import OperationError
from batchdeploy.images.context import content_tag
from tests.images_support import ExtraRegistry, RefusingRegistry, RegistryView, pushed_image, tree_snapshot

pytestmark = pytest.mark.engine

SCRATCH = "localhost/batchdeploy-test-scratch:1"
DOCKERFILE = f"FROM {SCRATCH}\nCOPY . /app/\n"


@pytest.fixture(scope="session")
def engine_env(local_stack, tmp_path_factory):
    """The local stack's environment, with the engine's logins kept in a temp folder."""
    folder = tmp_path_factory.mktemp("engine")
    auth = folder / "auth.json"
    auth.write_text("{}")  # podman wants REGISTRY_AUTH_FILE to exist
    env = {**local_stack.env, "REGISTRY_AUTH_FILE": str(auth), "DOCKER_CONFIG": str(folder / "docker")}
    tar = folder / "scratch.tar"
    with tarfile.open(tar, "w") as tf:
        data = b"scratch\n"
        info = tarfile.TarInfo("scratch.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    local_stack.cli("import", str(tar), SCRATCH)
    yield env
    # The engine's storage outlives the session: drop what the tests made (pulls by digest leave
    # untagged entries, so by id; one at a time, as ids are shared between repositories).
    lines = local_stack.cli("images", "--no-trunc", "--format", "{{.Repository}} {{.ID}}", check=False).stdout
    prefixes = (f"{local_stack.registry}/bd-", "localhost/bd-ignore-")
    ids = {line.split()[1] for line in lines.splitlines() if line.startswith(prefixes) and len(line.split()) == 2}
    for image_id in ids:
        local_stack.cli("rmi", "-f", image_id, check=False)


@pytest.fixture
def view(local_stack):
    return RegistryView(local_stack.registry, local_stack.state / "log" / "registry.log")


@pytest.fixture
def app(project, engine_env):
    """A project with one tiny image; its own repository name in the shared registry."""
    name = f"bd-{uuid.uuid4().hex[:10]}"
    project.name = name
    project.write("Dockerfile", DOCKERFILE)
    project.write("app.txt", "one\n")
    project.write(".dockerignore", ".aws_env\n.batchdeploy/\ndata/\n")
    project.env_file(PROJECT_NAME=name, VERSION="1.0")
    project.env = dict(engine_env)
    return project


def run_b(project, *args, **env):
    return project.run("images", *args, env={**project.env, **env})


def local_ids(local_stack, repository: str) -> dict[str, str]:
    """tag -> image id of every local image of `repository`."""
    lines = local_stack.cli("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.splitlines()
    out = {}
    for line in lines:
        ref, _, image_id = line.partition(" ")
        repo, _, tag = ref.rpartition(":")
        if repo == repository:
            out[tag] = image_id.removeprefix("sha256:")
    return out


def entry(project) -> dict:
    return project.state("images.json")["images"][project.name]


def test_a_second_run_with_nothing_changed_builds_and_pushes_nothing(app, local_stack, view):
    repo = f"{local_stack.registry}/{app.name}"
    done = run_b(app)
    assert done.returncode == 0, done.stderr
    e = entry(app)
    assert done.stdout.startswith(f"pushed: {repo}:{e['tag']}@{e['digest']}")
    assert "STEP" in done.stderr or "Step" in done.stderr  # the build log was shown
    assert view.tags(app.name) == {e["tag"], "1.0", "latest"}
    assert {view.digest(app.name, t) for t in (e["tag"], "1.0", "latest")} == {e["digest"]}

    ids = local_ids(local_stack, repo)
    state = tree_snapshot(app.path / ".batchdeploy")
    mark = view.mark()
    started = time.monotonic()
    done = run_b(app)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"up to date: {repo}:{e['tag']}@{e['digest']}\n"
    # One request to the registry, a HEAD; nothing built (no new image id), nothing pushed.
    assert view.since(mark) == [("HEAD", f"/v2/{app.name}/manifests/{e['tag']}", 200)]
    assert local_ids(local_stack, repo) == ids
    assert view.tags(app.name) == {e["tag"], "1.0", "latest"}
    assert tree_snapshot(app.path / ".batchdeploy") == state
    print(f"no-change -b: {elapsed:.2f}s, 1 registry request")


def test_a_changed_file_makes_a_new_tag_and_an_ignored_one_does_not(app, local_stack, view):
    assert run_b(app).returncode == 0
    first = entry(app)
    app.write("data/big.csv", "1,2\n")  # ignored by .dockerignore
    done = run_b(app)
    assert done.stdout.startswith("up to date: ")
    assert entry(app) == first

    app.write("app.txt", "two\n")
    done = run_b(app)
    assert done.returncode == 0, done.stderr
    second = entry(app)
    assert second["tag"] != first["tag"] and second["digest"] != first["digest"]
    assert view.tags(app.name) == {first["tag"], second["tag"], "1.0", "latest"}
    assert view.digest(app.name, "latest") == second["digest"]
    assert view.digest(app.name, first["tag"]) == first["digest"]


def test_a_new_version_moves_the_tags_without_building(app, local_stack, view):
    repo = f"{local_stack.registry}/{app.name}"
    assert run_b(app).returncode == 0
    first = entry(app)
    built = set(local_ids(local_stack, repo).values())
    done = run_b(app, BATCHDEPLOY_VERSION="2.0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"tagged: {repo}:{first['tag']}@{first['digest']} (tags 2.0, latest)")
    assert view.digest(app.name, "2.0") == first["digest"]
    assert set(local_ids(local_stack, repo).values()) == built
    assert entry(app)["version"] == "2.0" and entry(app)["pushed_at"] == first["pushed_at"]
    mark = view.mark()
    assert run_b(app, BATCHDEPLOY_VERSION="2.0").stdout.startswith("up to date: ")
    assert len(view.since(mark)) == 1


def test_force_rebuilds_without_cache_and_pins_the_new_build(app, local_stack, view):
    repo = f"{local_stack.registry}/{app.name}"
    assert run_b(app).returncode == 0
    plain = entry(app)
    before = local_ids(local_stack, repo)
    done = run_b(app, "--force")
    assert done.returncode == 0, done.stderr
    forced = entry(app)
    assert forced["tag"].startswith(plain["tag"] + "-f")
    assert local_ids(local_stack, repo)[forced["tag"]] not in before.values()  # a new build
    assert view.digest(app.name, plain["tag"]) == plain["digest"]  # the content tag did not move
    assert view.digest(app.name, "latest") == forced["digest"]
    assert run_b(app).stdout.startswith(f"up to date: {repo}:{forced['tag']}@")


@pytest.mark.parametrize("quiet", [False, True])
def test_a_failing_build_shows_the_engine_and_pushes_nothing(app, view, quiet):
    app.write("Dockerfile", f"FROM {SCRATCH}\nCOPY does-not-exist /x\n")
    done = run_b(app, *(["--quiet"] if quiet else []))
    assert done.returncode == 1
    lines = done.stderr.rstrip("\n").splitlines()
    assert lines[-1].startswith("batchdeploy: error: cannot build ")
    assert sum(line.startswith("batchdeploy: error") for line in lines) == 1
    assert "does-not-exist" in "\n".join(lines[:-1])  # the engine's own words, before our line
    assert done.stdout == ""
    assert view.tags(app.name) == set()
    assert not (app.path / ".batchdeploy" / "images.json").exists()


def test_a_registry_that_refuses_the_push(app, engine_env, tmp_path):
    readonly = ExtraRegistry(tmp_path / "readonly registry", readonly=True)
    try:
        conf = tmp_path / "registries.conf"
        original = engine_env.get("CONTAINERS_REGISTRIES_CONF")
        text = Path(original).read_text() if original else ""
        conf.write_text(text + f'\n[[registry]]\nlocation = "{readonly.host}"\ninsecure = true\n')
        done = run_b(app, AWS_REGISTRY=readonly.host, CONTAINERS_REGISTRIES_CONF=str(conf))
    finally:
        readonly.stop()
    assert done.returncode == 1
    lines = done.stderr.rstrip("\n").splitlines()
    assert lines[-1].startswith(f"batchdeploy: error: cannot push {readonly.host}/{app.name}:c-")
    assert not (app.path / ".batchdeploy" / "images.json").exists()


def test_the_engine_copies_exactly_what_the_content_tag_counts(project, engine_env, local_stack):
    """The .dockerignore rules against the engine itself: what COPY . puts in the image is what
    batchdeploy.images.context hashes."""
    project.write("Dockerfile", DOCKERFILE)
    ignore = "\n".join(
        [
            "# comment",
            "*.log",
            "!keep.log",
            "sub",
            "!sub/keep",
            "**/cache",
            "/docs/*.md",
            "!docs/README.md",
            "deep/**/tmp",
            "Dockerfile",
            "a?c",
        ]
    )
    project.write(".dockerignore", ignore + "\n")
    for name in [
        "x.log", "keep.log", "sub/x", "sub/keep", "sub/deep/y", "lib/cache/z", "cache/z", "lib/ok.py",
        "docs/a.md", "docs/README.md", "docs/img/b.md", "deep/a/b/tmp/f", "deep/tmpx", "abc", "abbc", "nested/x.log",
    ]:
        project.write(name, name + "\n")
    expected = {e.path for e in content_tag(project.path, project.path / "Dockerfile", flavor=engine_env["CONTAINER_CLI"]).entries if e.kind == "f"}

    tag = f"localhost/bd-ignore-{uuid.uuid4().hex[:8]}:1"
    env = {**os.environ, **engine_env}
    cli = engine_env["CONTAINER_CLI"]
    local_stack.cli("build", "-q", "-t", tag, str(project.path), timeout=300)
    container = local_stack.cli("create", tag, "none").stdout.strip().splitlines()[-1]
    try:
        exported = subprocess.run([cli, "export", container], env=env, capture_output=True, check=True, timeout=120).stdout
    finally:
        local_stack.cli("rm", container, check=False)
        local_stack.cli("rmi", tag, check=False)
    with tarfile.open(fileobj=io.BytesIO(exported)) as tf:
        copied = {m.name.removeprefix("./").removeprefix("app/") for m in tf.getmembers() if m.isfile() and m.name.removeprefix("./").startswith("app/")}
    assert copied == expected
    assert "keep.log" in copied and "sub/keep" in copied and "docs/README.md" in copied  # exceptions
    assert "x.log" not in copied and "nested/x.log" in copied and "Dockerfile" not in copied


def test_login_with_the_password_on_stdin_against_real_registries(engine_env, local_stack, tmp_path):
    engine = choose(engine_env["CONTAINER_CLI"], {**os.environ, **engine_env})
    engine.login(local_stack.registry, "AWS", "a-password-never-on-argv")  # an open registry takes any login

    refusing = RefusingRegistry()
    conf = tmp_path / "registries.conf"
    original = engine_env.get("CONTAINERS_REGISTRIES_CONF")
    text = Path(original).read_text() if original else ""
    conf.write_text(text + f'\n[[registry]]\nlocation = "{refusing.host}"\ninsecure = true\n')
    engine.environ["CONTAINERS_REGISTRIES_CONF"] = str(conf)
    try:
        with pytest.raises(OperationError) as err:
            engine.login(refusing.host, "AWS", "a-password-never-on-argv")
    finally:
        refusing.close()
    assert err.value.line().startswith(f"cannot log in to {refusing.host}: {engine.name} failed:")
    assert "a-password-never-on-argv" not in err.value.line()


def test_the_job_definition_rendered_by_update_jobs_names_the_content_tag(app, local_stack):
    assert run_b(app).returncode == 0
    e = entry(app)
    app.write_json(
        "job-definition.json",
        {
            "jobDefinitionName": "${PROJECT_NAME}-experiment",
            "type": "container",
            "containerProperties": {
                "image": "${AWS_REGISTRY}/${PROJECT_NAME}:${IMAGE_TAG}",
                "command": ["true"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
            },
        },
    )
    env = {**app.env, **{k: v for k, v in local_stack.env.items() if k.startswith("AWS_")}}
    done = app.run("update-jobs", env=env)
    assert done.returncode == 0, done.stderr
    from batchdeploy.aws import Aws, AwsSettings

    settings = AwsSettings(
        region=env["AWS_REGION"],
        endpoint_url=local_stack.endpoint,
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    batch = Aws(settings).client("batch")
    found = batch.describe_job_definitions(jobDefinitionName=f"{app.name}-experiment", status="ACTIVE")
    (definition,) = found["jobDefinitions"]
    assert definition["containerProperties"]["image"] == f"{local_stack.registry}/{app.name}:{e['tag']}"


def test_the_docker_cli_works_too(app, local_stack, view):
    """Where the local stack runs podman, the docker CLI reaches it through DOCKER_HOST (podman's
    Docker-compatible API): the docker flavour (digest read from the push output) end to end."""
    import shutil

    if local_stack.env["CONTAINER_CLI"] == "docker":
        pytest.skip("the local stack's engine is Docker itself: every other test here is the docker flavour")
    if not shutil.which("docker"):
        pytest.skip("no docker CLI on PATH")
    repo = f"{local_stack.registry}/{app.name}"
    done = run_b(app, CONTAINER_CLI="docker")
    assert done.returncode == 0, done.stderr
    e = entry(app)
    assert view.digest(app.name, e["tag"]) == e["digest"] == view.digest(app.name, "latest")
    done = run_b(app, CONTAINER_CLI="docker")
    assert done.stdout == f"up to date: {repo}:{e['tag']}@{e['digest']}\n"


def test_several_images_and_one_at_a_time(app, local_stack, view):
    worker = f"{app.name}-worker"
    app.write("worker/Dockerfile", DOCKERFILE)
    app.write("worker/job.txt", "work\n")
    app.env_file(PROJECT_NAME=app.name, VERSION="1.0", IMAGES=f"{app.name}=. {worker}=worker")
    done = run_b(app, "--image", worker)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("pushed: ") == 1 and f"/{worker}:c-" in done.stdout
    assert view.tags(app.name) == set()
    done = run_b(app)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith(f"pushed: {local_stack.registry}/{app.name}:c-")
    assert done.stdout.splitlines()[1].startswith(f"up to date: {local_stack.registry}/{worker}:c-")
    recorded = app.state("images.json")["images"]
    assert set(recorded) == {app.name, worker} and recorded[app.name]["tag"] != recorded[worker]["tag"]


# -- issue #26: secrets stay out of the image, special files, the useful line of a failed build ------


def exported(local_stack, ref: str) -> bytes:
    """The file system of image `ref`, as a tar."""
    container = local_stack.cli("create", ref, "none").stdout.strip().splitlines()[-1]
    try:
        cli = local_stack.env["CONTAINER_CLI"]
        env = {**os.environ, **local_stack.env}
        return subprocess.run([cli, "export", container], env=env, capture_output=True, check=True, timeout=300).stdout
    finally:
        local_stack.cli("rm", container, check=False)


def files_holding(folder: Path, needle: str) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() and needle.encode() in p.read_bytes())


def test_a_secret_build_argument_is_refused_and_nothing_is_built(app, local_stack, view):
    canary = f"canary-arg-{uuid.uuid4().hex}"
    app.env_file(PROJECT_NAME=app.name, VERSION="1.0", BUILD_ARGS=f"BASE=x NPM_TOKEN={canary}")
    done = run_b(app)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.rstrip("\n")]  # one line
    assert done.stderr.startswith("batchdeploy: error: BUILD_ARGS: NPM_TOKEN looks like a secret")
    assert "BUILD_SECRETS=NPM_TOKEN" in done.stderr and "RUN --mount=type=secret,id=NPM_TOKEN" in done.stderr
    assert canary not in done.stdout + done.stderr and done.stdout == ""
    assert view.tags(app.name) == set()
    assert local_ids(local_stack, f"{local_stack.registry}/{app.name}") == {}
    assert not (app.path / ".batchdeploy" / "images.json").exists()


def test_a_build_secret_reaches_the_build_and_never_the_image(app, local_stack, view, tmp_path):
    """The secret is read by a RUN step (its sha256 checked against one given as a plain build
    argument), and the canary is then nowhere: not in any output, the state folder, the temporary
    folder, `history --no-trunc`, `inspect`, nor anything the registry serves (config and layers).
    The plain build argument is found in history and config: the search would see a leak."""
    import hashlib

    canary = f"canary-secret-{uuid.uuid4().hex}"
    expected = hashlib.sha256(canary.encode()).hexdigest()
    base = local_stack.env["BATCHDEPLOY_BASE_IMAGE"]
    app.write(
        "Dockerfile",
        f"FROM {base}\nARG EXPECTED\nCOPY app.txt /app/\n"
        "RUN --mount=type=secret,id=NPM_TOKEN echo \"$EXPECTED  /run/secrets/NPM_TOKEN\" | sha256sum -c - "
        "&& wc -c < /run/secrets/NPM_TOKEN > /app/secret-length\n",
    )
    app.env_file(PROJECT_NAME=app.name, VERSION="1.0", BUILD_ARGS=f"EXPECTED={expected}",
                 BUILD_SECRETS="NPM_TOKEN", NPM_TOKEN=canary)
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = run_b(app, TMPDIR=str(temp))
    assert done.returncode == 0, done.stderr
    assert "/run/secrets/NPM_TOKEN: OK" in done.stderr  # the RUN step read the right value
    e = entry(app)
    ref = f"{local_stack.registry}/{app.name}:{e['tag']}"

    history = local_stack.cli("history", "--no-trunc", ref).stdout
    inspect = local_stack.cli("inspect", ref).stdout
    served = pushed_image(local_stack.registry, app.name, e["tag"])
    assert expected in history and any(expected.encode() in blob for blob in served.values())  # the control
    assert "--mount=type=secret,id=NPM_TOKEN" in history
    for where, text in [("output", done.stdout + done.stderr), ("history", history), ("inspect", inspect)]:
        assert canary not in text, where
    assert [d for d, blob in served.items() if canary.encode() in blob] == []
    assert files_holding(app.path / ".batchdeploy", canary) == []
    assert files_holding(temp, canary) == [] and not list(temp.glob("batchdeploy-*"))
    tar = exported(local_stack, ref)
    assert canary.encode() not in tar and b"run/secrets/NPM_TOKEN" not in tar

    # A changed secret value is no new content: up to date, nothing built.
    app.env_file(PROJECT_NAME=app.name, VERSION="1.0", BUILD_ARGS=f"EXPECTED={expected}",
                 BUILD_SECRETS="NPM_TOKEN", NPM_TOKEN=canary + "-rotated")
    assert run_b(app).stdout == f"up to date: {local_stack.registry}/{app.name}:{e['tag']}@{e['digest']}\n"


def test_a_fifo_in_the_context_is_refused_until_ignored_and_a_socket_is_left_out(app, local_stack, view):
    import socket

    os.mkfifo(app.path / "pipe")
    done = run_b(app)
    assert done.returncode == 2
    assert done.stderr == (
        f"batchdeploy: error: {app.path / 'pipe'} is a FIFO: the engine would copy it into the image as one, and "
        "the content tag cannot describe it; remove it or add `pipe` to the ignore file (.dockerignore)\n"
    )
    assert view.tags(app.name) == set()

    app.write(".dockerignore", ".aws_env\n.batchdeploy/\ndata/\npipe\n")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(app.path / "s.sock"))
        done = run_b(app)
    assert done.returncode == 0, done.stderr
    ref = f"{local_stack.registry}/{app.name}:{entry(app)['tag']}"
    with tarfile.open(fileobj=io.BytesIO(exported(local_stack, ref))) as tf:
        copied = {m.name.removeprefix("./") for m in tf.getmembers() if m.name.removeprefix("./").startswith("app/")}
    assert "app/app.txt" in copied and not any(n.endswith(("pipe", "s.sock")) for n in copied), copied


@pytest.mark.parametrize("quiet", [False, True])
def test_a_dockerfile_syntax_error_is_one_short_line_naming_its_line(app, view, quiet):
    app.write("Dockerfile", f"FROM {SCRATCH}\nCOPY app.txt /app/\nFORM x\n")
    flags = ["--quiet"] if quiet else []
    done = run_b(app, *flags)
    assert done.returncode == 1
    last = done.stderr.rstrip("\n").splitlines()[-1]
    assert last.startswith(f"batchdeploy: error: cannot build {app.env['AWS_REGISTRY']}/{app.name}:c-")
    assert last.endswith(": Dockerfile:3: unknown instruction: FORM"), last
    assert len(last) < 120 + len(app.name)
    assert "imagebuilder.Step" not in done.stderr and max(map(len, done.stderr.splitlines())) < 200
    assert view.tags(app.name) == set()

    debug = run_b(app, *flags, BATCHDEPLOY_DEBUG="1")
    assert debug.returncode == 1
    assert debug.stderr.rstrip("\n").splitlines()[-1] == last
    assert 'Original:"FORM x"}' in debug.stderr  # the engine's full text, above


def test_an_image_with_the_launcher_records_its_python_and_one_without_python_records_none(app, local_stack, view):
    """-b asks an image with the launcher for its python3's major.minor (function calls need the
    client's to match): Debian bookworm's is 3.11; the scratch image has none; an unchanged build is
    not asked again."""
    base = local_stack.env["BATCHDEPLOY_BASE_IMAGE"]
    app.write("Dockerfile", f"FROM {base}\nCOPY batchdeploy-launch /usr/local/bin/\n")
    done = run_b(app)
    assert done.returncode == 0, done.stderr
    e = entry(app)
    assert (e["launcher"], e["python"]) == (True, "3.11")
    from batchdeploy.images.launcher import python_version

    assert python_version(app.state("images.json")["images"], f"{e['repository']}:{e['tag']}") == "3.11"
    data = app.state("images.json")
    data["images"][app.name]["python"] = "3.99"  # what -b recorded for this digest is kept, not asked again
    (app.path / ".batchdeploy" / "images.json").write_text(json.dumps(data))
    assert run_b(app).returncode == 0 and entry(app)["python"] == "3.99"
    app.write("Dockerfile", f"FROM {SCRATCH}\nCOPY batchdeploy-launch /usr/local/bin/\n")
    done = run_b(app)
    assert done.returncode == 0, done.stderr
    assert (entry(app)["launcher"], entry(app)["python"]) == (True, None)
