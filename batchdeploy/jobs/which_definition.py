"""Which job definition revision `-r` submits, and the one line that says why when it is not simply the
one asked for.

    --job-definition NAME[:REV]|ARN   that one (NAME: the revision -u recorded, else the newest ACTIVE)
    nothing recorded here (no -u)     the newest ACTIVE revision of the name in JOB_DEFINITIONS' files
    recorded, AWS has a newer ACTIVE  the newest (someone else ran -u, or registered it by hand)
    recorded and newest               the recorded one, silently
"""

from __future__ import annotations

from batchdeploy.aws import batch as aws_batch
from batchdeploy.errors import UsageError
from batchdeploy.jobdef.files import names_in_files
from batchdeploy.jobdef.record import read_recorded
from batchdeploy.jobs import request as req


def resolve_definition(ctx, batch, wanted: str | None, say=None) -> dict:
    """The job definition in force: --job-definition NAME[:REV]|ARN, else the one -u recorded, or a
    newer ACTIVE revision of its name, else the newest ACTIVE revision of the files' name."""
    say = say or ctx.out.note
    recorded = read_recorded(ctx.state)
    known = recorded.get("definitions") or {}
    if not wanted:
        default = recorded.get("default")
        if not default:
            return _newest_by_files(ctx, batch, say)
        entry = known.get(default) or {}
        active = aws_batch.active_revisions(batch, default)  # one read: the recorded revision is among them
        recorded_rev = entry.get("revision")
        if active and recorded_rev and active[0]["revision"] > recorded_rev:
            say(f"job definition {default}:{active[0]['revision']}: the newest ACTIVE revision, newer than "
                f"{default}:{recorded_rev} that -u recorded here")
            return active[0]
        mine = [d for d in active if d["revision"] == recorded_rev] if recorded_rev else active[:1]
        if mine:
            return mine[0]
        ref = entry.get("arn") or (f"{default}:{recorded_rev}" if recorded_rev else default)
        return _describe_definition(batch, ref, recorded_by_u=True)  # gone: says how
    if not wanted.startswith("arn:") and ":" not in wanted and (known.get(wanted) or {}).get("arn"):
        return _describe_definition(batch, known[wanted]["arn"], recorded_by_u=True)
    return _describe_definition(batch, wanted, recorded_by_u=False)


def _newest_by_files(ctx, batch, say) -> dict:
    """No -u in this folder: the newest ACTIVE revision of the name the job definition file gives."""
    names = names_in_files(ctx.cfg)
    if not names:
        raise UsageError("no job definition registered yet: -u recorded none here and no job definition file names one",
                         hint="run ./deploy.sh -u, or name one with --job-definition NAME")
    for name in names:
        newest = aws_batch.newest_active(batch, name)
        if newest is not None:
            say(f"job definition {name}:{newest['revision']}: the newest ACTIVE revision in AWS "
                "(./deploy.sh -u has recorded none in this folder)")
            return newest
    raise UsageError(f"job definition {' or '.join(names)} has no ACTIVE revision in AWS", hint="run ./deploy.sh -u")


def _describe_definition(batch, ref: str, recorded_by_u: bool) -> dict:
    """`ref` as AWS has it (aws.batch.job_definition), refused unless it is registered and ACTIVE."""
    where = " (the revision -u recorded)" if recorded_by_u else ""
    if not ref.startswith("arn:"):
        _, _, rev = ref.partition(":")
        if rev and not rev.isdigit():
            raise UsageError(f"--job-definition {ref!r}: the revision must be a number", hint="write NAME or NAME:REV")
    jd = aws_batch.job_definition(batch, ref)
    if jd is None:
        raise UsageError(f"job definition {ref}{where} is not registered", hint="run ./deploy.sh -u")
    if jd.get("status") != "ACTIVE":
        raise UsageError(
            f"job definition {req.definition_label(jd)}{where} is {jd.get('status')} (deregistered)",
            hint="run ./deploy.sh -u",
        )
    return jd
