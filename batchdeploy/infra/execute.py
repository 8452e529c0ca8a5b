"""Carrying a plan out (chalice's Executor and DisplayOnlyExecutor).

`Executor` shows the plan as progress, asks when a change needs a yes, makes each change through the
journal, and hands the journal to the verb's report. `DisplayOnlyExecutor` is `--dry-run`: it shows
the plan as the result and changes nothing. The verb picks one; nothing else knows about --dry-run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from batchdeploy.aws import ssm as aws_ssm
from batchdeploy.aws import translate
from batchdeploy.aws.s3 import MAX_DELETE_KEYS
from batchdeploy.aws.tags import TAG_PROJECT, our_tags
from batchdeploy.errors import OperationError, UsageError
from batchdeploy.infra.jobdef import forget_job_definition, register_job_definition
from batchdeploy.infra.journal import Journal
from batchdeploy.infra.model import BATCH_API, CHANGES, LABEL, Action
from batchdeploy.infra.observe import describe_one
from batchdeploy.infra.plan import plan_lines
from batchdeploy.polling import wait_until
from batchdeploy.secrets import redact


@dataclass
class Plan:
    """One verb's plan, as the executors take it."""

    verb: str  # create | delete: names the journal's next step after a failure
    prefix: str
    project: str
    title: str
    actions: list[Action]
    report: Callable[[Journal], int]  # the verb's results once the work is done; returns the exit code
    confirm: tuple[str, str] | None = None  # (question, why) when the changes need a yes
    warnings: list[str] = field(default_factory=list)  # said after the plan, before any change

    @property
    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.op in CHANGES]

    def as_dict(self, **more) -> dict:
        return {"prefix": self.prefix, "project": self.project, **more, "plan": [a.as_dict() for a in self.actions]}


class DisplayOnlyExecutor:
    """--dry-run: the plan is the result (JSON on stdout, or its lines on stderr); nothing changes."""

    def __init__(self, out):
        self.out = out

    def execute(self, plan: Plan) -> int:
        if self.out.json:
            self.out.emit_json(plan.as_dict(dry_run=True))
            return 0
        for line in plan_lines(plan.actions, plan.title):
            print(redact(line), file=self.out.stderr, flush=True)
        return 0


class Executor:
    """Makes the changes of a plan, in its order, each recorded in the journal as it is done."""

    def __init__(self, ctx, yes: bool, timeout: float):
        self.ctx = ctx
        self.aws = ctx.aws
        self.yes = yes
        self.timeout = timeout

    def execute(self, plan: Plan) -> int:
        out = self.ctx.out
        if not out.json:
            for line in plan_lines(plan.actions, plan.title):
                out.note(line)
        for warning in plan.warnings:
            out.warn(warning)
        journal = Journal(out, self.ctx.state, plan.prefix, plan.verb)
        if plan.changes:
            if plan.confirm:
                confirm(self.yes, out, *plan.confirm)
            journal.run(lambda: self.perform(plan, journal))
        return plan.report(journal)

    def perform(self, plan: Plan, journal: Journal) -> None:
        for a in plan.actions:
            if a.op in ("create", "update"):
                self._make(a, journal, our_tags(plan.project, plan.prefix))
            elif a.op == "delete":
                self._remove(a, journal)

    # ---- create / update ----------------------------------------------------------------------

    def _make(self, a: Action, journal: Journal, owner: dict) -> None:
        tag_list = [{"Key": k, "Value": v} for k, v in owner.items()]  # S3's and ECR's shape of tags
        if a.kind == "bucket":
            self._create_bucket(a, journal, tag_list)
        elif a.kind == "ecr-repository":
            # The project's, shared by its prefixes (-b pushes every prefix's images there): no prefix tag.
            project_tag = [t for t in tag_list if t["Key"] == TAG_PROJECT]
            with translate(f"create ECR repository {a.name} (ecr:CreateRepository)"):
                repo = self.aws.client("ecr").create_repository(repositoryName=a.name, tags=project_tag)["repository"]
            a.arn = repo["repositoryArn"]
            a.details["uri"] = repo.get("repositoryUri")
            journal.record("created", a.kind, a.name, a.arn)
        elif a.kind in BATCH_API:
            self._create_or_update_batch(a, journal)
        elif a.kind == "job-definition":
            a.arn = register_job_definition(self.aws, self.ctx.state, a.request, a.details.get("file", ""))
            journal.record("registered", a.kind, a.name, a.arn, text=f"registered job definition {a.arn}")

    def _create_bucket(self, a: Action, journal: Journal, tag_list: list[dict]) -> None:
        s3, region = self.aws.client("s3"), self.aws.region
        kwargs = {"Bucket": a.name}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with translate(f"create S3 bucket {a.name} (s3:CreateBucket)"):
            s3.create_bucket(**kwargs)
        try:
            with translate(f"tag S3 bucket {a.name} (s3:PutBucketTagging)"):
                s3.put_bucket_tagging(Bucket=a.name, Tagging={"TagSet": tag_list})
        except OperationError:
            # Untagged, delete would never remove it (not ours by its tags): take the empty bucket back.
            with translate(f"delete S3 bucket {a.name} after its tagging failed (s3:DeleteBucket)"):
                s3.delete_bucket(Bucket=a.name)
            raise
        journal.record("created", a.kind, a.name, f"arn:aws:s3:::{a.name}")

    def _create_or_update_batch(self, a: Action, journal: Journal) -> None:
        batch, api = self.aws.client("batch"), BATCH_API[a.kind]
        if a.op == "create":
            with translate(f"create {a.label} (batch:Create{api.action})"):
                a.arn = getattr(batch, f"create_{api.method}")(**a.request)[f"{api.field}Arn"]
            journal.record("created", a.kind, a.name, a.arn)
        else:
            if set(a.request) - {api.field}:  # more than the name: some field differs, not only the tags
                with translate(f"update {a.label} (batch:Update{api.action})"):
                    getattr(batch, f"update_{api.method}")(**a.request)
            tags = a.details.get("tags")
            if tags:
                with translate(f"tag {a.label} (batch:TagResource)"):
                    batch.tag_resource(resourceArn=a.arn, tags=tags)
            journal.record("updated", a.kind, a.name, a.arn)
        self._wait(valid_check(batch, a.kind, a.name), f"{a.label} to become VALID")

    # ---- delete -------------------------------------------------------------------------------

    def _remove(self, a: Action, journal: Journal) -> None:
        if a.kind in BATCH_API:
            self._disable_and_delete(a, journal)
        elif a.kind == "job-definition":
            batch = self.aws.client("batch")
            for arn in a.details["revisions"]:
                with translate(f"deregister job definition {arn} (batch:DeregisterJobDefinition)"):
                    batch.deregister_job_definition(jobDefinition=arn)
                journal.done.append(f"deregistered {arn}")
            forget_job_definition(self.ctx.state, a.name, a.details["revisions"])
            journal.record("deregistered", a.kind, a.name, None, text=f"deregistered job definition {a.name}")
        elif a.kind == "ssm-parameter":
            aws_ssm.delete(self.aws.client("ssm"), [a.name])
            journal.record("deleted", a.kind, a.name, a.arn)
        elif a.kind == "ecr-repository":
            with translate(f"delete ECR repository {a.name} (ecr:DeleteRepository)"):
                self.aws.client("ecr").delete_repository(repositoryName=a.name, force=bool(a.details.get("empty")))
            journal.record("deleted", a.kind, a.name, a.arn)
        elif a.kind == "bucket":
            s3 = self.aws.client("s3")
            if a.details.get("empty"):
                n = empty_bucket(s3, a.name)
                journal.done.append(f"emptied S3 bucket {a.name} ({n} object versions)")
            with translate(f"delete S3 bucket {a.name} (s3:DeleteBucket)"):
                s3.delete_bucket(Bucket=a.name)
            journal.record("deleted", a.kind, a.name, a.arn)

    def _disable_and_delete(self, a: Action, journal: Journal) -> None:
        """Disable (unless it already is) and wait, then delete and wait until it is gone: AWS deletes only
        a DISABLED job queue or compute environment, and either stays (DELETING) a while after the call."""
        batch, api = self.aws.client("batch"), BATCH_API[a.kind]
        if a.details.get("disable"):
            with translate(f"disable {a.label} (batch:Update{api.action})"):
                getattr(batch, f"update_{api.method}")(**{api.field: a.name, "state": "DISABLED"})
            journal.record("disabled", a.kind, a.name, a.arn)
            self._wait(valid_check(batch, a.kind, a.name, "DISABLED"), f"{a.label} to be disabled")
        with translate(f"delete {a.label} (batch:Delete{api.action})"):
            getattr(batch, f"delete_{api.method}")(**{api.field: a.name})
        self._wait(gone_check(batch, a.kind, a.name), f"{a.label} to be deleted")
        journal.record("deleted", a.kind, a.name, a.arn)

    def _wait(self, check, what: str) -> None:
        ctx = self.ctx
        start = ctx.clock()
        wait_until(check, what, self.timeout, ctx.sleep, ctx.clock)
        took = ctx.clock() - start
        if took >= 1:
            ctx.out.note(f"  ({what}: {took:.0f} s)")


def valid_check(batch, kind: str, name: str, want_state: str | None = None):
    """For wait_until: done once VALID (and in `want_state`); INVALID or gone ends the wait."""
    label = f"{LABEL[kind]} {name}"

    def check():
        d = describe_one(batch, kind, name)
        if d is None:
            raise OperationError(f"{label} disappeared while waiting for it")
        status, reason = d.get("status"), d.get("statusReason") or "no reason given"
        if status == "INVALID":
            hint = "fix the file (roles, subnets, security groups) and run create --update"
            raise OperationError(
                f"{label} is INVALID: {reason}", hint=hint if kind == "compute-environment" else None
            )
        ok = status == "VALID" and (want_state is None or d.get("state") == want_state)
        return ok, f"status {status}, state {d.get('state')}: {reason}"

    return check


def gone_check(batch, kind: str, name: str):
    def check():
        d = describe_one(batch, kind, name)
        return (
            d is None,
            f"status {d and d.get('status')}: {(d or {}).get('statusReason') or 'no reason given'}",
        )

    return check


def empty_bucket(s3, name: str) -> int:
    """Every object version and delete marker deleted, 1,000 per DeleteObjects; returns how many.

    The listing starts again from the top after each batch: paging on through what is being deleted
    (KeyMarker/VersionIdMarker) stops half way on S3 and on moto. The loop ends when a listing is empty,
    or fails when a batch deletes nothing (the same versions listed again)."""
    n, last = 0, None
    with translate(
        f"empty S3 bucket {name} (s3:ListBucketVersions, s3:DeleteObject, s3:DeleteObjectVersion)"
    ):
        while True:
            page = s3.list_object_versions(Bucket=name, MaxKeys=MAX_DELETE_KEYS)
            items = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ][:MAX_DELETE_KEYS]
            if not items:
                return n
            if items == last:
                raise OperationError(f"cannot empty S3 bucket {name}: the versions deleted are listed again")
            last = items
            answer = s3.delete_objects(Bucket=name, Delete={"Objects": items, "Quiet": True})
            if answer.get("Errors"):
                err = answer["Errors"][0]
                raise OperationError(
                    f"cannot empty S3 bucket {name}: {err.get('Code')}: {err.get('Message')} ({err.get('Key')})"
                )
            n += len(items)


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(yes: bool, out, question: str, why: str) -> None:
    """Ask on a terminal; refuse without --yes elsewhere, before anything changed (exit 2)."""
    if yes:
        return
    if not stdin_is_terminal():
        raise UsageError(
            f"{why} needs confirmation and stdin is not a terminal",
            hint="run with --yes to go ahead (--dry-run shows the plan)",
        )
    print(f"{question} [y/N] ", end="", file=out.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise OperationError("cancelled: nothing was changed")
