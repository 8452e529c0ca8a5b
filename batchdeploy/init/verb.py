"""`init [DIR]`: write a new project's files into DIR (default: the current folder).

Nothing is overwritten without --force: if any of the files exists, one line names them all and
nothing is written (exit 2). Needs no configuration and no AWS call.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from batchdeploy.config import read_env_file
from batchdeploy.errors import UsageError
from batchdeploy.init.files import clean_name, name_problem, project_files
from batchdeploy.state import atomic_write
from batchdeploy.ui import FRONT_DOOR


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
    ctx.out.info("next:")
    for line in next_steps(folder, read_env_file(folder / ".aws_env")[0]["S3_BUCKET"], bool(args.local)):
        ctx.out.info(f"  {line}")
    return 0


def next_steps(folder: Path, bucket: str, local: bool, environ=None) -> list[str]:
    """The commands that take the new project to a finished job, ready to paste into a shell: paths
    quoted, deploy.sh named by its absolute path when it was the door (a project has no deploy.sh of
    its own), else `batchdeploy VERB` (ui.as_run names them so as they are printed)."""
    environ = os.environ if environ is None else environ
    clone = Path(__file__).resolve().parents[2]
    via_sh = environ.get(FRONT_DOOR) == "deploy.sh" and (clone / "deploy.sh").is_file()
    door = shlex.quote(str(clone / "deploy.sh")) if via_sh else "./deploy.sh"
    stack = shlex.quote(str(clone / "scripts" / "local-stack.sh")) if via_sh else \
        f"{shlex.quote(sys.executable)} -m batchdeploy.local"
    first = f"{stack} up && source <({stack} env)" if local else \
        "set ACCOUNT_ID in .aws_env, and AWS credentials as the AWS CLI finds them"
    return [first, f"cd {shlex.quote(str(folder))}",
            f"{door} --create --yes && {door} -b && {door} -u && {door} --sync-to-s3",
            f"{door} -r try experiment_file=s3://{bucket}/experiments/pi.yaml "
            f"output_path=s3://{bucket}/results/try --wait"]
