"""What a sync tells its user: sizes, the summary line, the dry run's list, --output json."""

from __future__ import annotations

import os


def human_bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def summary_line(verb: str, copied: int, nbytes: int, deleted: int, unchanged: int, seconds: float, dry: bool) -> str:
    would = "would " if dry else ""
    text = f"{would}{verb} {copied:,} ({human_bytes(nbytes)}), {would}delete {deleted:,}, unchanged {unchanged:,}"
    if not dry:
        text = f"{verb} {copied:,} ({human_bytes(nbytes)}), deleted {deleted:,}, unchanged {unchanged:,}"
    return text + (" (dry run: nothing changed)" if dry else f" in {seconds:.1f} s")


def report_dry(out, opts, plan, nbytes: int) -> int:
    """--dry-run: what would be copied and deleted, nothing done."""
    verb = "upload" if opts.upload else "download"
    if out.json:
        out.emit_json(
            {
                "direction": verb,
                "dry_run": True,
                "local": opts.local,
                "remote": opts.remote,
                "copy": plan.copy,
                "delete": plan.delete,
                "bytes": nbytes,
                "unchanged": plan.unchanged,
            }
        )
        return 0
    for rel in plan.copy:
        out.result(f"would {verb} {rel}")
    for rel in plan.delete:
        where = f"s3://{opts.bucket}/{opts.key(rel)}" if opts.upload else os.path.join(opts.local, rel)
        out.result(f"would delete {where}")
    out.result(summary_line(verb, len(plan.copy), nbytes, len(plan.delete), plan.unchanged, 0, True))
    return 0


def report_done(out, opts, copied: list[str], nbytes: int, deleted: int, unchanged: int, pages: int, seconds: float):
    """The finished run: one summary line, or the JSON document."""
    verb = "upload" if opts.upload else "download"
    if out.json:
        out.emit_json(
            {
                "direction": verb,
                "local": opts.local,
                "remote": opts.remote,
                "copied": sorted(copied),
                "bytes": nbytes,
                "deleted": deleted,
                "unchanged": unchanged,
                "list_requests": pages,
                "seconds": round(seconds, 3),
            }
        )
    else:
        out.result(summary_line(verb + "ed", len(copied), nbytes, deleted, unchanged, seconds, False))
