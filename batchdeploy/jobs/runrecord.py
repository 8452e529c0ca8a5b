"""The run record's writer for `-r` (the layout and the reader are batchdeploy.runs).

`start` runs after every check passed and before SubmitJob: it uploads the code bundle and the
manifest when the run has them (each only when S3 lacks it), then writes run.json (state
"submitting"). `finish` writes submitted.json once SubmitJob answered (the job id) or failed for good
(the error). Killed between the two, the run keeps run.json alone: a reader sees "submitting" and
finds the job, if AWS made one, by the client token run.json holds. The record holds no environment,
so no credential; parameters whose names look secret are masked, and every text passes `redact`.
"""

from __future__ import annotations

import datetime as _dt

from batchdeploy import runs
from batchdeploy.aws import translate
from batchdeploy.jobs import code as codes
from batchdeploy.jobs import request as req
from batchdeploy.secrets import MASK, is_secret, redact
from batchdeploy.state import IMAGES


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def image_of(job_definition: dict, images: dict) -> dict:
    """The definition's image, with what -b recorded of it (tag, digest, launcher) when it made it."""
    reference = (job_definition.get("containerProperties") or {}).get("image")
    found = codes.image_entry(images, reference or "")
    entry = found[1] if found else {}
    return {
        "reference": reference,
        "tag": entry.get("tag") or req.image_tag(job_definition),
        "digest": entry.get("digest"),
        "launcher": entry.get("launcher") if found else None,
    }


def who(aws) -> dict:
    """The caller, as STS says (GetCallerIdentity needs no permission)."""
    with translate("get the caller identity for the run record (sts:GetCallerIdentity)"):
        identity = aws.client("sts").get_caller_identity()
    return {"arn": identity.get("Arn"), "account": identity.get("Account")}


class RunRecorder:
    """One run's objects in S3, each written once."""

    def __init__(self, ctx, spec: req.RunSpec, code: codes.CodePlan | None, *, now=_now):
        self.ctx, self.spec, self.code, self.now = ctx, spec, code, now
        self.bucket = ctx.cfg.get("S3_BUCKET")
        self.prefix = ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX)
        self.run_id = runs.new_run_id(now())
        self.s3 = None

    @property
    def enabled(self) -> bool:
        """A run record needs a bucket; without S3_BUCKET plain -r submits as before, with a note."""
        return bool(self.bucket)

    def document(self) -> dict:
        spec, code = self.spec, self.code
        params = {k: (MASK if is_secret(k.upper()) else redact(v)) for k, v in spec.parameters.items()}
        return runs.build_run(
            run_id=self.run_id, created_at=runs.iso(self.now()), who=who(self.ctx.aws),
            git=runs.git_state(self.ctx.cfg.project_dir), name=spec.name, queue=spec.queue,
            job_definition=spec.job_definition,
            image=image_of(spec.job_definition, self.ctx.state.read(IMAGES).get("images") or {}),
            parameters=params, extra_args=[redact(w) for w in spec.extra_args], array_size=spec.array_size,
            client_token=spec.client_token, records=runs.records_url(self.bucket, self.prefix, self.run_id),
            manifest={"url": code.manifest_url, "sha256": code.manifest.sha256} if code else None,
            bundle=code.summary() if code else None, project=self.ctx.cfg.get("PROJECT_NAME"),
        )

    def start(self, out) -> dict:
        self.s3 = self.ctx.aws.client("s3")
        if self.code:
            sent_bundle, sent_manifest = codes.upload(self.s3, self.code)
            out.note(f"code bundle {self.code.bundle.sha256[:12]}: " + ("uploaded" if sent_bundle else "already in S3")
                     + "; manifest: " + ("uploaded" if sent_manifest else "already in S3"))
        return self.publish(out, self.document())

    def publish(self, out, doc: dict) -> dict:
        """run.json written once, said, and remembered as this machine's last run (for `-i`)."""
        runs.put(self.s3, self.bucket, runs.run_key(self.prefix, self.run_id, runs.RUN_FILE), doc)
        out.note(f"run {self.run_id}: s3://{self.bucket}/{runs.run_key(self.prefix, self.run_id)}")
        self.ctx.state.write(runs.LAST_RUN, {
            "run_id": self.run_id, "url": f"s3://{self.bucket}/{runs.run_key(self.prefix, self.run_id)}",
            "created_at": doc["created_at"], "bundle": doc["bundle"], "manifest": doc["manifest"],
        })
        return doc

    def around(self, out, submit):
        """run.json, then `submit()` (SubmitJob), then submitted.json with its answer or the error it
        raised. An interrupt (KeyboardInterrupt) leaves run.json alone: the run stays "submitting"."""
        if not self.enabled:
            out.note("no S3_BUCKET: no run record written")
            return submit()
        self.start(out)
        try:
            answer = submit()
        except Exception as exc:
            self.finish_quietly(exc, out)
            raise
        self.finish(answer)
        return answer

    def finish(self, answer: dict | None = None, error: BaseException | None = None) -> None:
        text = None if error is None else redact(f"{type(error).__name__}: {error}")[:2000]
        doc = runs.build_submitted(
            run_id=self.run_id, at=runs.iso(self.now()), job_id=(answer or {}).get("jobId"),
            job_arn=(answer or {}).get("jobArn"), error=text,
        )
        runs.put(self.s3, self.bucket, runs.run_key(self.prefix, self.run_id, runs.SUBMITTED_FILE), doc)

    def finish_quietly(self, error: BaseException, out) -> None:
        """submitted.json with the error SubmitJob ended on; a failure to write it is a warning only."""
        try:
            self.finish(error=error)
        except Exception as exc:  # noqa: BLE001 - the submit's own error is the one to report
            out.warn(f"could not record the failed submit in run {self.run_id}: {type(exc).__name__}")

