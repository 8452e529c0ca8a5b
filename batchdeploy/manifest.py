"""The client's half of the launcher's manifest: built from tasks, checked with the launcher's own
rules (batchdeploy.launch.spec), named by the sha256 of its canonical JSON, and uploaded, like a
code bundle, only when S3 does not have it yet (HEAD, then PUT), through a client passed in.

    <prefix>/manifests/<sha256>.json     the manifest (format: batchdeploy.launch's docstring)
    <prefix>/code/<sha256>.tar.gz        a code bundle (batchdeploy.bundle)

No credential ever goes in a manifest: environment names that look secret are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from batchdeploy.aws.errors import error_code, translate
from batchdeploy.errors import UsageError
from batchdeploy.launch import spec
from batchdeploy.secrets import is_secret

_NOT_THERE = {"404", "NoSuchKey", "NotFound"}


@dataclass
class Manifest:
    doc: dict
    data: bytes
    sha256: str

    def key(self, prefix: str) -> str:
        return f"{prefix.strip('/')}/manifests/{self.sha256}.json".lstrip("/")


def _text_values(mapping, what: str) -> dict:
    """Parameters and environment as strings: numbers and booleans are written as JSON writes them."""
    out = {}
    for name, value in (mapping or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = repr(value)
        elif not isinstance(value, str):
            raise UsageError(f"{what} {name!r} must be a string or a number, not {type(value).__name__}")
        out[str(name)] = value
    return out


def _task(raw: dict) -> dict:
    task = {
        "command": list(raw["command"]) if raw.get("command") is not None else None,
        "parameters": _text_values(raw.get("parameters"), "parameter"),
        "environment": _text_values(raw.get("environment"), "environment variable"),
        "inputs": [dict(i) for i in raw.get("inputs") or []],
        "outputs": [dict(o) for o in raw.get("outputs") or []],
    }
    if raw.get("id") is not None:  # a sweep's task id (batchdeploy.sweeps); the launcher names records by it
        task["id"] = raw["id"]
    unknown = sorted(set(raw) - set(task) - {"id"})
    if unknown:
        raise UsageError(f"unknown task keys: {', '.join(unknown)}", hint="a task has " + ", ".join(task))
    return task


def bundle_ref(bundle, bucket: str, prefix: str) -> dict:
    """What a manifest says of a bundle (batchdeploy.bundle.Bundle) uploaded under `prefix`."""
    return {"url": f"s3://{bucket}/{bundle.key(prefix)}", "sha256": bundle.sha256, "size": len(bundle.data)}


def build(tasks: list, *, command=None, environment=None, bundle: dict | None = None, records: str | None = None,
          stderr: str | None = None) -> Manifest:
    """The manifest of `tasks` (dicts of command, parameters, environment, inputs, outputs, and an
    optional positive integer id); every problem reported at once as a UsageError."""
    doc = {
        "format": spec.MANIFEST_FORMAT,
        "bundle": bundle,
        "records": records,
        "command": list(command) if command is not None else None,
        "environment": _text_values(environment, "environment variable"),
        "tasks": [_task(t) for t in tasks],
    }
    if stderr is not None:  # only when asked: every other manifest keeps its name (its sha256)
        doc["stderr"] = stderr
    secret = sorted({k for env in [doc["environment"], *(t["environment"] for t in doc["tasks"])] for k in env if is_secret(k)})
    if secret:
        raise UsageError(
            f"the manifest would hold secrets: {', '.join(secret)}",
            hint="credentials reach the job through its environment or role, never through S3",
        )
    problems = spec.manifest_problems(doc)
    if problems:
        raise UsageError("the tasks do not make a manifest: " + "; ".join(problems[:10]))
    data = spec.canonical_json(doc)
    return Manifest(doc, data, spec.sha256_hex(data))


def upload_if_absent(client, bucket: str, key: str, body: bytes, content_type: str) -> bool:
    """PUTs `body` unless the key exists already (content-addressed keys never change); True when
    it uploaded. A HEAD refused with 403 (no s3:ListBucket) is taken as absent."""
    with translate(f"check s3://{bucket}/{key}"):
        try:
            client.head_object(Bucket=bucket, Key=key)
            return False
        except Exception as exc:
            if error_code(exc) not in _NOT_THERE | {"403", "AccessDenied"}:
                raise
    with translate(f"upload s3://{bucket}/{key}"):
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return True


def upload_bundle(client, bucket: str, prefix: str, bundle) -> dict:
    upload_if_absent(client, bucket, bundle.key(prefix), bundle.data, "application/gzip")
    return bundle_ref(bundle, bucket, prefix)


def upload_manifest(client, bucket: str, prefix: str, manifest: Manifest) -> str:
    key = manifest.key(prefix)
    upload_if_absent(client, bucket, key, manifest.data, "application/json")
    return f"s3://{bucket}/{key}"
