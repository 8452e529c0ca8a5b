"""The job's command: triage's own command line, the same words (`triage_job.py experiment CONFIG
--project-path DIR [--replace] ...`), with four differences that work around triage 6.0.0:

- it exits 1 when triage says the run failed;
- the database password never reaches the job's log: triage logs its whole DATABASE_URL ("Results will
  be stored in DB: postgresql://user:PASSWORD@..."), and a job's log (CloudWatch Logs) is readable by
  anyone allowed logs:GetLogEvents; every log record's text has the password replaced by ***;
- a local CONFIG is made absolute: triage opens it through its storage layer, which first makes the
  file's folder and fails on a bare file name (`experiment.yaml`: os.makedirs('')).
- with AWS_EC2_METADATA_DISABLED=true (the local stack sets it in every job: the metadata address is
  routable there and must never be asked), triage does not ask 169.254.169.254 for the instance type it
  records in triage_runs.ec2_instance_type (it stays NULL, as triage records off EC2); on AWS it asks.

triage 6.0.0's CLI catches every exception of an experiment, logs it ("Something went wrong", then
"Experiment [config file: ...] run failed!") and exits 0, which AWS Batch would call SUCCEEDED. Its
failure paths log through the logger `triage.cli` with the exception attached (logger.exception), so a
handler on the root logger sees each one; no message text is matched."""

from __future__ import annotations

import logging
import os
import sys
import urllib.parse


class Failures(logging.Handler):
    """Counts the records triage's CLI logs with an exception attached: its failure paths."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "triage.cli" and record.exc_info:
            self.count += 1


def url_secrets(url: str | None) -> list[str]:
    """The password of a database URL as the URL spells it and unquoted (both may be logged)."""
    try:
        password = urllib.parse.urlsplit(url or "").password
    except ValueError:
        return []
    return sorted({password, urllib.parse.unquote(password)} - {""}, key=len, reverse=True) if password else []


def redacting(secrets: list[str], make=logging.LogRecord):
    """A log record factory (logging.setLogRecordFactory) whose records never hold one of `secrets`."""

    def factory(*args, **kwargs):
        record = make(*args, **kwargs)
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the handler's to report
            return record
        if any(secret in text for secret in secrets):
            for secret in secrets:
                text = text.replace(secret, "***")
            record.msg, record.args = text, ()
        return record

    return factory


def absolute_config(argv: list[str]) -> list[str]:
    """`experiment CONFIG ...` with a local CONFIG made absolute; anything else as it is."""
    if len(argv) >= 2 and argv[0] == "experiment" and "://" not in argv[1] and not argv[1].startswith("-"):
        return [argv[0], os.path.abspath(argv[1]), *argv[2:]]
    return list(argv)


def metadata_allowed(environ) -> bool:
    """Whether the instance metadata address may be asked (botocore's own switch says no)."""
    return environ.get("AWS_EC2_METADATA_DISABLED", "").strip().lower() != "true"


def no_instance_metadata(modules) -> list[str]:
    """Replace triage's infer_ec2_instance_type (tracking.py asks 169.254.169.254 with requests) in
    every loaded triage module that holds it; the names of the modules changed."""
    changed = []
    for name, module in list(modules.items()):
        if name.startswith("triage") and callable(getattr(module, "infer_ec2_instance_type", None)):
            module.infer_ec2_instance_type = lambda: None
            changed.append(name)
    return changed


def main(argv: list[str]) -> int:
    secrets = url_secrets(os.environ.get("DATABASE_URL"))
    if secrets:
        logging.setLogRecordFactory(redacting(secrets, logging.getLogRecordFactory()))
    from triage.cli import execute  # the image's triage; imported here so the handler is testable alone

    if not metadata_allowed(os.environ):
        import triage.tracking  # noqa: F401 - loaded, so that the next line finds what to replace

        no_instance_metadata(sys.modules)

    failures = Failures()
    logging.getLogger().addHandler(failures)
    sys.argv = ["triage", *absolute_config(argv)]
    try:
        execute()
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
    return 1 if failures.count else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
