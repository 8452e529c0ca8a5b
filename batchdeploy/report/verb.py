"""`batchdeploy report RUN_ID [RUN_ID ...]` (`./deploy.sh --report`): writes the HTML report, prints the
terminal table and the report's path (`--output json`: the data and the path)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from pathlib import Path

from batchdeploy import errors, runs
from batchdeploy.errors import UsageError
from batchdeploy.report import model, page
from batchdeploy.report.read import read_runs
from batchdeploy.secrets import redact


def add_flags(add, verb: str) -> None:
    add("run_ids", nargs="+", metavar="RUN_ID", help="the runs to report on, side by side")
    add("--out", metavar="FILE", help="where the HTML goes (default: .batchdeploy/reports/RUN_ID[+...].html)")


@dataclass(frozen=True)
class ReportOptions:
    run_ids: tuple[str, ...]
    out: Path | None

    @classmethod
    def from_args(cls, args) -> ReportOptions:
        bad = [r for r in args.run_ids if not runs.RUN_ID.fullmatch(r)]
        if bad:
            raise UsageError(f"{bad[0]}: not a run id", hint="a run id looks like 20261130T161200Z-3fa9c1 (./deploy.sh --status lists them)")
        return cls(run_ids=tuple(dict.fromkeys(args.run_ids)), out=Path(args.out) if args.out else None)


def main(ctx) -> int:
    opts = ReportOptions.from_args(ctx.args)
    ctx.cfg.require("S3_BUCKET", optional=("RUNS_PREFIX", "RESULTS_PREFIX"))
    found = read_runs(ctx.aws.client("s3"), ctx.aws.client("batch"), ctx.cfg["S3_BUCKET"],
                      ctx.cfg.get("RUNS_PREFIX", runs.DEFAULT_PREFIX), ctx.cfg.get("RESULTS_PREFIX", "results"),
                      list(opts.run_ids))
    now = runs.iso(_dt.datetime.now(_dt.timezone.utc))
    path = opts.out or ctx.state.folder / "reports" / ("+".join(opts.run_ids) + ".html")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(redact(page.html(found, now)), encoding="utf-8")  # .aws_env's secrets never in the file
    tmp.replace(path)  # a reader never sees half a page
    if ctx.out.json:
        ctx.out.emit_json({"report": str(path.resolve()), "runs": [
            {"run_id": r.run_id, "tasks": [asdict(t) for t in r.tasks]} for r in found]})
        return errors.OK
    for line in model.table(found):
        ctx.out.result(line)
    ctx.out.result(f"report: {path.resolve()}")
    return errors.OK
