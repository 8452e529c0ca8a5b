"""One attempt's container, for batch_runner.py (inside the moto server): the environment AWS Batch
gives a job (its variables, `secrets` resolved from moto's SSM and Secrets Manager), the image pulled,
the container started through the Docker API (podman's or Docker's), its lines streamed to moto's
CloudWatch Logs while it runs, and its end: exit code, reasons, timeout (attemptDurationSeconds) and
TerminateJob. Secret values go into the container's environment only: never into DescribeJobs, a log
line or an exception text.
"""

from __future__ import annotations

import threading
import time

import batch_rules as rules  # loaded by moto_server.py under this name

LOG_GROUP = "/aws/batch/job"
WAIT = 1.0  # seconds of each wait on the container before looking at the timeout and TerminateJob
STOP_GRACE = 30  # AWS: SIGTERM, then SIGKILL 30 s later


class StartFailed(Exception):
    """The attempt failed before its command ran: `reason` is container.reason."""

    def __init__(self, reason: str, status_reason: str = rules.NOT_STARTED):
        super().__init__(reason)
        self.reason, self.status_reason = reason, status_reason


def run(job, attempt, number: int, ce) -> None:
    """Runs one attempt, filling `attempt` (see batch_runner.Attempt)."""
    container = None
    try:
        env = environment(job, number, ce)
        image = job.job_definition.container_properties.get("image", "")
        pull(job.docker_client, image)
        container = create(job, image, env)
        start(container)
        job._status = "RUNNING"
        attempt.stream = f"{job.job_definition.name}/default/{container.id[:32]}"
        job.log_stream_name = attempt.stream
        logs = LogFollower(job, container, attempt.stream)
        watch(job, container, attempt)
        logs.finish()
    except StartFailed as failed:
        attempt.reason, attempt.status_reason = failed.reason, failed.status_reason
    finally:
        if container is not None:
            remove(container)


def environment(job, number: int, ce) -> dict:
    from moto import settings

    props = job.job_definition.container_properties
    env = rules.merged_environment(props.get("environment"), job.container_overrides.get("environment"))
    env.update(resolve_secrets(job, props.get("secrets") or []))
    index = (job.array_properties or {}).get("index")
    env.update(rules.batch_variables(job.job_id, number, ce.name if ce else "", job.job_queue.name, index))
    env.update(MOTO_HOST=settings.moto_server_host(), MOTO_PORT=settings.moto_server_port(),
               AWS_EC2_METADATA_DISABLED="true")
    env["MOTO_HTTP_ENDPOINT"] = f"{env['MOTO_HOST']}:{env['MOTO_PORT']}"
    return env


def resolve_secrets(job, secrets: list) -> dict:
    """{name: value} for the job's `secrets`, read as the execution role would, from moto's backends."""
    region, account = job.backend.region_name, job.backend.account_id
    out, missing_ssm = {}, []
    for entry in secrets:
        ref = rules.parse_value_from(str(entry.get("valueFrom", "")), region, account)
        if ref.service == "secretsmanager":
            out[entry["name"]] = secrets_manager_value(ref)
            continue
        value = ssm_value(ref)
        if value is None:
            missing_ssm.append(ref.ident)
        else:
            out[entry["name"]] = value
    if missing_ssm:
        raise StartFailed(rules.ssm_missing(missing_ssm), rules.ssm_missing(missing_ssm))
    return out


def ssm_value(ref) -> str | None:
    from moto.ssm.models import ssm_backends

    try:
        parameter = ssm_backends[ref.account][ref.region].get_parameter(ref.ident)
    except Exception:  # moto raises for a malformed name: AWS calls it invalid too
        return None
    return None if parameter is None else parameter.decrypt(parameter.value)


def secrets_manager_value(ref) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[ref.account][ref.region]
    try:
        found = backend.get_secret_value(ref.ident, ref.version_id or None, ref.version_stage or None)
    except Exception:
        raise StartFailed(rules.asm_missing(ref.ident), rules.asm_missing(ref.ident)) from None
    text = found.get("SecretString")
    if text is None:
        raise StartFailed(rules.asm_missing(ref.ident, "the secret has no SecretString"),
                          rules.asm_missing(ref.ident, "the secret has no SecretString"))
    if not ref.json_key:
        return text
    value = rules.json_key(text, ref.json_key)
    if value is None:
        why = f"retrieved secret from Secrets Manager did not contain json key {ref.json_key}"
        raise StartFailed(rules.asm_missing(ref.ident, why), rules.asm_missing(ref.ident, why))
    return value


def pull(client, image: str) -> None:
    """The image, pulled unless the engine has it: failing, the job fails as AWS's would."""
    import docker

    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError:
        pass
    repository, tag = docker.utils.parse_repository_tag(image)
    try:
        client.images.pull(repository, tag=tag or "latest")
    except docker.errors.APIError as err:
        raise StartFailed(f"CannotPullContainerError: {explanation(err)}") from None


def explanation(err) -> str:
    text = getattr(err, "explanation", None) or str(err)
    return f"Error response from daemon: {text}" if "Error response from daemon" not in text else text


def create(job, image: str, env: dict):
    import docker
    from moto import settings

    command = job._add_parameters_to_command(job._get_container_property("command", []))
    volumes = {v["name"]: v.get("host") or {} for v in job._get_container_property("volumes", [])}
    mounts = [docker.types.Mount(m["containerPath"], volumes[m["sourceVolume"]].get("sourcePath", ""), type="bind",
                                 read_only=bool(m.get("readOnly"))) for m in job._get_container_property("mountPoints", [])]
    kwargs = {"network_mode": settings.moto_network_mode()} if settings.moto_network_mode() else {}
    if settings.moto_network_name():
        kwargs = {"network": settings.moto_network_name()}
    try:
        return job.docker_client.containers.create(
            image, command=command or None, environment=env, mounts=mounts, detach=True,
            name=f"{job.job_name}-{job.job_id.replace(':', '-')}-{int(time.time() * 1000)}",
            log_config=docker.types.LogConfig(type=docker.types.LogConfig.types.JSON),
            privileged=bool(job.job_definition.container_properties.get("privileged")), **kwargs,
        )
    except docker.errors.APIError as err:
        raise StartFailed(f"CannotCreateContainerError: {explanation(err)}") from None


def start(container) -> None:
    import docker

    try:
        container.start()
    except docker.errors.APIError as err:
        raise StartFailed(f"CannotStartContainerError: {explanation(err)}") from None


class LogFollower:
    """Follows the container's output into CloudWatch Logs, line by line, in a thread; `finish` then
    adds whatever the follow missed (a container that exits at once can end the follow early)."""

    def __init__(self, job, container, stream: str):
        self.container, self.stream, self.sent = container, stream, 0
        self.logs = job.backend.logs_backend
        self.logs.ensure_log_group(LOG_GROUP)
        self.logs.ensure_log_stream(LOG_GROUP, stream)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.follow, daemon=True, name=f"logs-{job.job_id}")
        self.thread.start()

    def follow(self) -> None:
        pending = b""
        try:
            for chunk in self.container.logs(stream=True, follow=True, timestamps=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self.put(lines)
        except Exception:  # the container went away: finish() reads the rest
            pass

    def put(self, lines: list, at: int | None = None) -> None:
        """Lines number `at` (default: the next unsent) onwards of the container's output, each sent once."""
        with self.lock:
            at = self.sent if at is None else at
            fresh = lines[self.sent - at:] if self.sent > at else lines
            now = int(time.time() * 1000)
            events = [rules.parse_log_line(raw.decode("utf-8", "replace"), now) for raw in fresh]
            if events:
                self.logs.put_log_events(LOG_GROUP, self.stream, [{"timestamp": t, "message": m} for t, m in events])
            self.sent = max(self.sent, at + len(lines))

    def finish(self) -> None:
        self.thread.join(5)
        try:
            everything = self.container.logs(timestamps=True).split(b"\n")
        except Exception:
            return
        if everything and not everything[-1]:
            everything.pop()
        self.put(everything, 0)


def watch(job, container, attempt) -> None:
    """Until the container exits (the engine's wait answers at once), the attempt times out, or
    TerminateJob stops it (both looked at every WAIT seconds)."""
    import requests

    limit = job._get_attempt_duration()
    deadline = time.monotonic() + limit if limit else None
    while True:
        try:
            found = container.wait(timeout=WAIT)
            attempt.exit_code, attempt.status_reason = int(found.get("StatusCode", 0)), rules.EXITED
            return
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            pass
        if job.stop or (deadline and time.monotonic() > deadline):
            attempt.final = True
            container.stop(timeout=STOP_GRACE)
            attempt.exit_code = exit_code(container)
            attempt.status_reason = job.job_stopped_reason if job.stop else rules.TIMED_OUT
            return


def exit_code(container) -> int | None:
    container.reload()
    if container.status in ("exited", "dead", "stopped"):
        return int(container.attrs.get("State", {}).get("ExitCode", 0))
    return None


def remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception:
        pass
