"""`SECRETS=POSTGRES_PASSWORD,...`: secrets by reference instead of in the job's plain environment.

Each named key's value (from `.aws_env`, or the environment as BATCHDEPLOY_<KEY>) is stored as an SSM
Parameter Store SecureString, /batchdeploy/PROJECT/ENV/KEY (`aws.ssm`), written only when SSM holds
something else (compared in memory, never printed) and tagged with the project's tags. The job
definition `-u` registers gets `containerProperties.secrets` = [{name, valueFrom: the parameter's ARN}],
so DescribeJobDefinitions and DescribeJobs show the ARN; AWS Batch resolves it when the container
starts (which needs the definition's executionRoleArn, allowed ssm:GetParameters and kms:Decrypt).

Where the writes happen: at `-u` (before registering, so the ARNs exist), and again at every `-r`, so a
changed value reaches the next job with no new revision (the reference names the parameter, whose
newest version ECS reads at start). `--dry-run` of either writes nothing. `--delete` removes them.
"""

from __future__ import annotations

import re

from batchdeploy.aws import ssm as aws_ssm
from batchdeploy.aws.tags import our_tags
from batchdeploy.errors import ConfigError
from batchdeploy.secrets import is_secret, register_secret

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FIX_ROLE = ("add containerProperties.executionRoleArn: a role ECS tasks may assume, allowed ssm:GetParameters "
            "on arn:aws:ssm:REGION:ACCOUNT:parameter/batchdeploy/PROJECT/* and kms:Decrypt on the key "
            "(alias/aws/ssm by default); see the README's IAM section")


def listed(cfg) -> list[str]:
    """The names SECRETS lists (commas or spaces), checked; [] when it is unset."""
    raw = cfg.get("SECRETS") or ""
    names = [n for n in re.split(r"[\s,]+", raw) if n]
    bad = [n for n in names if not _NAME.fullmatch(n) or n.startswith("AWS_BATCH")]
    if bad:
        raise ConfigError(f"SECRETS lists {', '.join(map(repr, bad))}: not an environment variable name",
                          hint="list key names, e.g. SECRETS=POSTGRES_PASSWORD,API_TOKEN")
    return list(dict.fromkeys(names))


def values(cfg, names: list[str]) -> dict[str, str]:
    """{KEY: value} of every listed key; a key with no value is an error naming them all."""
    missing = [n for n in names if not cfg.get(n)]
    if missing:
        raise ConfigError(
            f"SECRETS lists {', '.join(missing)} but {'it has' if len(missing) == 1 else 'they have'} no value",
            hint=f"set {missing[0]}=... in {cfg.where()} or BATCHDEPLOY_{missing[0]} in the environment",
        )
    found = {n: cfg[n] for n in names}
    for value in found.values():  # masked wherever printed, whatever the key is called
        register_secret(value)
    too_long = [n for n, v in found.items() if len(v.encode()) > aws_ssm.VALUE_LIMIT]
    if too_long:
        raise ConfigError(f"{', '.join(too_long)}: longer than SSM's {aws_ssm.VALUE_LIMIT} bytes for a parameter")
    return found


def store(aws, cfg, out, *, dry_run: bool = False) -> dict[str, str]:
    """Write the SECRETS values SSM does not hold yet (or holds differently); {KEY: parameter ARN}.
    One line per key says what was done, never the value. {} when SECRETS is unset."""
    names = listed(cfg)
    if not names:
        return {}
    project, env = cfg["PROJECT_NAME"], cfg.get("ENV", "development")
    wanted = {aws_ssm.parameter_name(project, env, k): v for k, v in values(cfg, names).items()}
    ssm = aws.client("ssm")
    stored = aws_ssm.compare(ssm, wanted)
    tags = our_tags(project, f"{project}-{env}")
    arns: dict[str, str] = {}
    for key, (name, value) in zip(names, wanted.items()):
        have = stored.get(name)
        if have is not None and have.same:
            arns[key] = have.arn
            continue
        verb = "updated" if have else "created"
        if not dry_run:
            aws_ssm.put(ssm, name, value, tags, exists=have is not None)
        out.note(f"secret {key}: {'would be ' if dry_run else ''}{verb} as SSM SecureString {name}")
    missing = [n for k, n in zip(names, wanted) if k not in arns]
    if missing:
        got = {} if dry_run else aws_ssm.compare(ssm, {n: wanted[n] for n in missing})
        for key, name in zip(names, wanted):
            if key not in arns:
                arns[key] = got[name].arn if name in got else _arn(aws, name)
    return arns


def _arn(aws, name: str) -> str:
    """The ARN a parameter not made yet will have (a dry run shows the definition as it would be)."""
    from batchdeploy.aws import translate

    with translate("read the account (sts:GetCallerIdentity)"):
        identity = aws.client("sts").get_caller_identity()
    return aws_ssm.arn_of(identity["Arn"].split(":")[1], aws.region, identity["Account"], name)


def check_execution_role(sources) -> None:
    """Every definition that gets references must name an executionRoleArn (ECS reads them with it)."""
    lacking = [s.shown for s in sources if not (s.definition.get("containerProperties") or {}).get("executionRoleArn")]
    if lacking:
        raise ConfigError(f"SECRETS needs an executionRoleArn in {', '.join(lacking)}", hint=FIX_ROLE)


def references(arns: dict[str, str]) -> list[dict]:
    return [{"name": k, "valueFrom": arn} for k, arn in arns.items()]


def with_references(defn: dict, arns: dict[str, str], shown: str) -> dict:
    """`defn` with containerProperties.secrets holding the references (the file's own entries kept).
    A key the file already gives in environment or secrets is an error: two values for one name."""
    container = dict(defn.get("containerProperties") or {})
    given = {e.get("name") for e in container.get("environment") or []} | {e.get("name") for e in container.get("secrets") or []}
    twice = [k for k in arns if k in given]
    if twice:
        raise ConfigError(f"{shown}: {', '.join(twice)} listed in SECRETS is also set in the file",
                          hint="remove it from the file's environment/secrets: SECRETS gives it by reference")
    container["secrets"] = list(container.get("secrets") or []) + references(arns)
    return {**defn, "containerProperties": container}


def referenced(defn: dict) -> set[str]:
    return {e.get("name") for e in (defn.get("containerProperties") or {}).get("secrets") or []}


def screen_overrides(overrides: dict, secret_keys: list[str], label: str, out) -> dict:
    """The overrides without the keys SECRETS gives by reference (the reference wins; a note says so),
    and a warning for each other secret-named entry with a value: readable in DescribeJobs."""
    environment = overrides.get("environment")
    if not isinstance(environment, list):
        return overrides
    kept = []
    for entry in environment:
        name = entry.get("name") if isinstance(entry, dict) else None
        if name in secret_keys:
            out.note(f"{label}: {name} left out of the job's environment: SECRETS gives it by reference")
            continue
        if name and is_secret(name) and entry.get("value"):
            out.warn(f"{label}: {name} has a value, and a job's environment is readable by anyone allowed "
                     f"batch:DescribeJobs; list it in SECRETS (SECRETS={name}) to pass it by reference")
        kept.append(entry)
    return {**overrides, "environment": kept}
