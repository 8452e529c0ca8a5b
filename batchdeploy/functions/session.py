"""The project a function runs in, found as the CLI finds it: `.aws_env` in the working folder (or
BATCHDEPLOY_ENV_FILE, or env_file=), the environment, and the options as flags over both. One
Context (the CLI's) per decorated function, made on first use, so decorating costs no AWS call."""

from __future__ import annotations

import argparse
import sys
import time

from batchdeploy import config
from batchdeploy.functions.options import Options
from batchdeploy.secrets import is_secret, register_secret


def context(options: Options, *, sleep=time.sleep, clock=time.monotonic, cwd=None, environ=None):
    """The CLI's Context for these options; progress to stderr only when `verbose`."""
    from batchdeploy.cli import Context
    from batchdeploy.ui import Output

    cfg = config.load(env_file=options.env_file, environ=environ, flags=options.config_flags(), cwd=cwd)
    for key, value in cfg.values.items():
        if is_secret(key):
            register_secret(value)
    out = Output(quiet=not options.verbose, fmt="text", stdout=sys.stderr)
    for warning in cfg.warnings:
        out.warn(warning)
    return Context(cfg=cfg, out=out, args=argparse.Namespace(), sleep=sleep, clock=clock)
