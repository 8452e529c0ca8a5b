"""The example experiment `init` writes: the code (experiment/run.py) and one experiment file."""

from pathlib import Path

# A user's program, kept as a file (not a module of batchdeploy: it makes its own boto3 client, as
# experiment code does); written as experiment/run.py.
RUN_PY = (Path(__file__).parent / "templates" / "run.py.txt").read_text(encoding="utf-8")

EXPERIMENT_YAML = """\
# One experiment: what run.py reads (--experiment-file). Add more files beside it; --sync-to-s3 uploads them.
name: pi
samples: 20000
seed: 7
"""
