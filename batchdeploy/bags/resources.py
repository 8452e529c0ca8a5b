"""The executor of a bags.names.Plan: the run's job definition, compute environment, queue and bucket
created (or checked) before its tasks, and what the run created deleted after them.

Built on infra's waits (`valid_check`, `gone_check`: AWS creates and deletes a compute environment or
queue asynchronously) and its `empty_bucket`. Facts kept from the pure layer's notes: HeadBucket before
CreateBucket (a bucket that exists, ours or not, is used and never deleted); a queue is disabled and
gone before its compute environment is touched; a job definition named without a revision means every
ACTIVE revision. Teardown runs every step it can and reports the first failure afterwards, so one
stuck resource never leaves the others behind.
"""

from __future__ import annotations

from batchdeploy.aws import batch as aws_batch
from batchdeploy.aws import error_code, translate
from batchdeploy.bags.names import COMPUTE_ENVIRONMENT, JOB_DEFINITION, JOB_QUEUE, S3_BUCKET, Plan, Step
from batchdeploy.errors import BatchdeployError, ConfigError
from batchdeploy.infra.execute import empty_bucket, gone_check, valid_check
from batchdeploy.infra.observe import describe_job_definition, describe_one
from batchdeploy.polling import wait_until

INFRA_KIND = {COMPUTE_ENVIRONMENT: "compute-environment", JOB_QUEUE: "job-queue"}
API = {COMPUTE_ENVIRONMENT: ("compute_environment", "computeEnvironment"), JOB_QUEUE: ("job_queue", "jobQueue")}


class Resources:
    """`setup()` then, whatever happened, `teardown()`; `used` maps each kind to the ARN or name tasks use."""

    def __init__(self, aws, plan: Plan, *, region: str, sleep, clock, note, timeout: float = 600):
        self.aws, self.plan, self.region = aws, plan, region
        self.sleep, self.clock, self.note, self.timeout = sleep, clock, note, timeout
        self.used: dict[str, str] = {}
        self.created: set[str] = set()

    def _wait(self, check, what: str) -> None:
        wait_until(check, what, self.timeout, self.sleep, self.clock)

    # -- setup ---------------------------------------------------------------------------------

    def setup(self) -> None:
        for step in self.plan.setup:
            kind = step.ref.kind
            if kind == S3_BUCKET:
                self._bucket(step)
            elif step.action == "use":
                self._use(step)
            elif kind == JOB_DEFINITION:
                spec = {**step.ref.spec, "jobDefinitionName": step.ref.name}
                spec.setdefault("type", "container")
                with translate(f"register job definition {step.ref.name} (batch:RegisterJobDefinition)"):
                    answer = self.aws.client("batch").register_job_definition(**spec)
                self.used[kind] = answer["jobDefinitionArn"]
                self.created.add(kind)
                self.note(f"created job definition {answer['jobDefinitionArn']}")
            else:
                self._create_ce_or_queue(step)

    def _use(self, step: Step) -> None:
        kind, ref = step.ref.kind, step.ref
        batch = self.aws.client("batch")
        if kind == JOB_DEFINITION:
            found = describe_job_definition(batch, ref.arn or ref.name)
            if found is None:
                raise ConfigError(f"job definition {ref.arn or ref.name} does not exist or is not ACTIVE",
                                  hint="give -j a JSON file to register one, or the name of an existing one")
            self.used[kind] = found["jobDefinitionArn"]
            return
        d = describe_one(batch, INFRA_KIND[kind], ref.arn or ref.name)
        if d is None:
            raise ConfigError(f"{kind.replace('_', ' ')} {ref.arn or ref.name} does not exist",
                              hint="give a JSON file to create it for this run, or the name of an existing one")
        self.used[kind] = d["arn"]

    def _create_ce_or_queue(self, step: Step) -> None:
        kind, ref = step.ref.kind, step.ref
        method, field = API[kind]
        batch = self.aws.client("batch")
        if kind == COMPUTE_ENVIRONMENT:
            spec = {**ref.spec, "computeEnvironmentName": ref.name}
        else:
            base = ref.spec or {"state": "ENABLED", "priority": 1, "computeEnvironmentOrder": [{"order": 1}]}
            ce = self.used.get(COMPUTE_ENVIRONMENT)
            order = [{**e, "computeEnvironment": e.get("computeEnvironment") or ce} for e in base["computeEnvironmentOrder"]]
            spec = {**base, "jobQueueName": ref.name, "computeEnvironmentOrder": order}
        with translate(f"create {kind.replace('_', ' ')} {ref.name} (batch:Create{field[0].upper()}{field[1:]})"):
            answer = getattr(batch, f"create_{method}")(**spec)
        self.created.add(kind)
        self.used[kind] = answer[field + "Arn"]
        self._wait(valid_check(batch, INFRA_KIND[kind], ref.name), f"{kind.replace('_', ' ')} {ref.name} to be VALID")
        self.note(f"created {kind.replace('_', ' ')} {answer[field + 'Arn']}")

    def _bucket(self, step: Step) -> None:
        s3, name = self.aws.client("s3"), step.ref.name
        try:
            s3.head_bucket(Bucket=name)
            self.used[S3_BUCKET] = name
            return
        except Exception as exc:  # noqa: BLE001 - 404 means create it; anything else is translated
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                with translate(f"look for bucket {name} (s3:HeadBucket)"):
                    raise
        extra = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        with translate(f"create bucket {name} (s3:CreateBucket)"):
            s3.create_bucket(Bucket=name, **extra)
        self.created.add(S3_BUCKET)
        self.used[S3_BUCKET] = name
        self.note(f"created bucket {name}")

    # -- teardown ------------------------------------------------------------------------------

    def teardown(self) -> None:
        """Delete what the plan says (a run: only what it created); the first failure raised at the end."""
        first: BatchdeployError | None = None
        for step in self.plan.teardown:
            kind = step.ref.kind
            if self.plan.mode == "run" and kind not in self.created:
                continue
            if step.when == "if-queue-deleted" and first is not None:
                continue  # the queue may still hold the compute environment
            try:
                self._delete(step)
            except BatchdeployError as exc:
                first = first or exc
                self.note(f"could not delete {step.describe()}: {exc.line()}")
        if first is not None:
            raise first

    def undo(self) -> None:
        """After a failed -c: delete what this invocation created, so nothing is left half-made."""
        refs = {step.ref.kind: step.ref for step in self.plan.setup}
        for kind in (JOB_QUEUE, COMPUTE_ENVIRONMENT, JOB_DEFINITION, S3_BUCKET):
            if kind in self.created:
                try:
                    self._delete(Step("delete", refs[kind]))
                except BatchdeployError as exc:
                    self.note(f"could not delete {refs[kind].name}: {exc.line()}")

    def _delete(self, step: Step) -> None:
        kind, ref = step.ref.kind, step.ref
        batch = self.aws.client("batch")
        if kind == S3_BUCKET:
            s3 = self.aws.client("s3")
            empty_bucket(s3, ref.name)
            with translate(f"delete bucket {ref.name} (s3:DeleteBucket)"):
                s3.delete_bucket(Bucket=ref.name)
        elif kind == JOB_DEFINITION:
            target = self.used.get(kind) if self.plan.mode == "run" else (ref.arn or ref.name)
            for arn in self._revisions(batch, target):
                with translate(f"deregister job definition {arn} (batch:DeregisterJobDefinition)"):
                    batch.deregister_job_definition(jobDefinition=arn)
        else:
            method, field = API[kind]
            name = self.used.get(kind) or ref.arn or ref.name
            d = describe_one(batch, INFRA_KIND[kind], name)
            if d is None:
                return
            if d.get("state") != "DISABLED":
                with translate(f"disable {kind.replace('_', ' ')} {name}"):
                    getattr(batch, f"update_{method}")(**{field: name, "state": "DISABLED"})
                self._wait(valid_check(batch, INFRA_KIND[kind], name, "DISABLED"), f"{name} to be disabled")
            with translate(f"delete {kind.replace('_', ' ')} {name}"):
                getattr(batch, f"delete_{method}")(**{field: name})
            self._wait(gone_check(batch, INFRA_KIND[kind], name), f"{name} to be deleted")
        self.note(f"deleted {kind.replace('_', ' ')} {ref.name}")

    @staticmethod
    def _revisions(batch, target: str) -> list[str]:
        """A job definition ARN or name with a revision as given; without one (a bare name, or the ARN
        pegasus builds from a name): every ACTIVE revision."""
        name = target.rsplit("/", 1)[-1] if target.startswith("arn:") else target
        if ":" not in name:
            return [d["jobDefinitionArn"] for d in aws_batch.active_revisions(batch, name)]
        return [target]
