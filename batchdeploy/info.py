"""`-i`: what batchdeploy would use: configuration (secrets masked), who AWS says we are, and versions."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess

from batchdeploy import runs
from batchdeploy.aws import translate


def _version(cmd: list[str]) -> str | None:
    if not shutil.which(cmd[0]):
        return None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else None


def tool_versions() -> dict[str, str | None]:
    import botocore
    import s3transfer

    try:
        import jq

        jq_bindings = getattr(jq, "__version__", "installed")
    except ImportError:
        jq_bindings = None
    awscli = _version(["aws", "--version"])
    return {
        "python": platform.python_version(),
        "botocore": botocore.__version__,
        "s3transfer": s3transfer.__version__,
        "jq (bindings)": jq_bindings,
        "jq (cli)": _version(["jq", "--version"]),
        "awscli": re.split(r"\s", awscli)[0] if awscli else None,
        "docker": _version(["docker", "--version"]),
        "podman": _version(["podman", "--version"]),
    }


def gather(ctx) -> dict:
    cfg = ctx.cfg
    with translate("get the caller identity (sts:GetCallerIdentity)"):
        identity = ctx.aws.client("sts").get_caller_identity()
    return {
        "env_file": str(cfg.env_file) if cfg.env_file else None,
        "configuration": {k: {"value": v, "from": cfg.sources.get(k)} for k, v in cfg.masked().items()},
        "identity": {"account": identity.get("Account"), "arn": identity.get("Arn"), "user_id": identity.get("UserId")},
        "region": ctx.aws.region,
        "endpoint": cfg.get("AWS_ENDPOINT_URL") or "(AWS default)",
        "versions": tool_versions(),
        "code": code_state(ctx),
    }


def code_state(ctx) -> dict:
    """Whether -r sends a code bundle by default (CODE_DIR), and what this machine's last run used."""
    last = ctx.state.read(runs.LAST_RUN) or {}
    return {
        "code_dir": ctx.cfg.get("CODE_DIR"),
        "last_run": last.get("run_id"),
        "last_run_url": last.get("url"),
        "last_bundle": (last.get("bundle") or {}).get("sha256") if last else None,
    }


def code_lines(code: dict) -> list[str]:
    default = f"CODE_DIR={code['code_dir']}: -r sends it as a code bundle" if code["code_dir"] else (
        "CODE_DIR not set: -r runs the image's code unless --code is given")
    lines = [f"code:      {default}"]
    if code["last_run"]:
        bundle = code["last_bundle"] or "none (the image's code)"
        lines.append(f"last run:  {code['last_run']} ({code['last_run_url']}), code bundle {bundle}")
    return lines


def main(ctx) -> int:
    data = gather(ctx)
    out = ctx.out
    if out.json:
        out.emit_json(data)
        return 0
    out.result(f"configuration file: {data['env_file'] or '(none found: environment and defaults only)'}")
    for key, item in data["configuration"].items():
        out.result(f"  {key:<22} {item['value']:<40} ({item['from']})")
    ident = data["identity"]
    out.result(f"identity:  {ident['arn']} (account {ident['account']})")
    out.result(f"region:    {data['region']}")
    out.result(f"endpoint:  {data['endpoint']}")
    for line in code_lines(data["code"]):
        out.result(line)
    out.result("versions:")
    for tool, version in data["versions"].items():
        out.result(f"  {tool:<14} {version or 'not found'}")
    return 0
