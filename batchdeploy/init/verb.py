"""`init [DIR]`: write a new project's files into DIR (default: the current folder).

Nothing is overwritten without --force: if any of the files exists, one line names them all and
nothing is written (exit 2). Needs no configuration and no AWS call.
"""

from __future__ import annotations

import os
from pathlib import Path

from batchdeploy.errors import UsageError
from batchdeploy.init.files import clean_name, name_problem, project_files
from batchdeploy.state import atomic_write


def add_flags(add, verb: str) -> None:
    add("dir", nargs="?", default=".", metavar="DIR", help="the project's folder (default: the current one)")
    add("--name", metavar="NAME", help="PROJECT_NAME (default: the folder's name, lowercased and cleaned)")
    add("--local", action="store_true", help="fill it for the local stack (make demo's AWS Batch on this machine)")
    add("--force", action="store_true", help="overwrite files that exist")


def main(ctx) -> int:
    args = ctx.args
    folder = Path(args.dir).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"init: {args.dir} is not a folder", hint="name a folder (it is made if missing)")
    name = args.name if args.name is not None else clean_name(folder.name)
    problem = name_problem(name)
    if problem:
        if args.name is None:
            problem = f"the folder's name {folder.name!r} gives no project name"
        raise UsageError(f"init: {problem}", hint="choose one with --name NAME")
    files = project_files(name, bool(args.local))
    existing = [p for p in files if (folder / p).exists()]
    if existing and not args.force:
        raise UsageError(f"init: {folder} already has {', '.join(existing)}", hint="--force overwrites them")
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text, mode=0o600 if rel == ".aws_env" else 0o644)
    os.chmod(folder / "experiment" / "run.py", 0o755)
    if ctx.out.json:
        ctx.out.emit_json({"project": name, "folder": str(folder), "local": bool(args.local), "files": list(files)})
        return 0
    where = "the local stack" if args.local else "AWS"
    ctx.out.result(f"project {name} for {where} in {folder}: {len(files)} files")
    ctx.out.info(_next_steps(args.local))
    return 0


def _next_steps(local: bool) -> str:
    start = (
        "next (in the folder): source <(python -m batchdeploy.local env), then"
        if local
        else "next (in the folder): set ACCOUNT_ID in .aws_env, then"
    )
    return f"{start} ./deploy.sh --create --yes, -b, -u, --sync-to-s3, -r try experiment_file=... --wait"
