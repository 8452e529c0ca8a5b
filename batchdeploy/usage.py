"""argparse's words for a usage error, said the way a user of triage's deploy.sh needs to hear them."""

from __future__ import annotations

import re

# triage's own help shows `./deploy.sh -r --experiment_file=s3://...,project_path=...`: a KEY=VALUE
# word written as a flag, and no run NAME.
_FLAG_PAIR = re.compile(r"unrecognized arguments: (--([A-Za-z_][A-Za-z0-9_]*)=\S*)")


def explain(verb: str, message: str) -> str:
    if verb == "run" and "the following arguments are required: NAME" in message:
        return "the job's NAME is missing: run NAME [key=val ...]"
    found = _FLAG_PAIR.search(message) if verb == "run" else None
    if found:
        return (f"{found.group(1)[:60]} is a parameter written as a flag (triage's help shows this form, which its "
                f"own deploy.sh did not take either): give the run a NAME, then key=val words without --, "
                f"e.g. -r exp1 {found.group(2)}=...")
    return message
