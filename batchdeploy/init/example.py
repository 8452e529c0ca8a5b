"""The example experiment `init` writes: the code (experiment/run.py) and one experiment file."""

RUN_PY = r'''#!/usr/bin/env python3
"""An example experiment: estimate pi by sampling points in a square, as the experiment file asks.

    run.py --experiment-file s3://BUCKET/experiments/pi.yaml --output-path s3://BUCKET/results/NAME

Both arguments also take local paths, to try it without AWS: python3 experiment/run.py
--experiment-file experiments/pi.yaml --output-path results/try. It writes metrics.json to the output.
Only the standard library, PyYAML and boto3 are used. Replace it with your own code.
"""

import argparse
import json
import os
import random
import sys

import yaml


def estimate(samples: int, seed: int) -> float:
    """Pure: the same seed gives the same estimate."""
    rng = random.Random(seed)
    inside = sum(1 for _ in range(samples) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)
    return 4.0 * inside / samples


def s3():
    import boto3

    # Older botocore (Debian's, in the local stack's base image) ignores AWS_ENDPOINT_URL: passed on
    # explicitly. On AWS it is unset, and boto3 uses the real endpoint and the job role's credentials.
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


def split(location: str):
    bucket, _, key = location[len("s3://"):].partition("/")
    return bucket, key


def read(location: str) -> str:
    if location.startswith("s3://"):
        bucket, key = split(location)
        return s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    with open(location, encoding="utf-8") as f:
        return f.read()


def write(location: str, name: str, text: str) -> None:
    if location.startswith("s3://"):
        bucket, key = split(location.rstrip("/") + "/" + name)
        s3().put_object(Bucket=bucket, Key=key, Body=text.encode())
        return
    os.makedirs(location, exist_ok=True)
    with open(os.path.join(location, name), "w", encoding="utf-8") as f:
        f.write(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment-file", required=True)
    p.add_argument("--output-path", required=True)
    args = p.parse_args(argv)
    experiment = yaml.safe_load(read(args.experiment_file)) or {}
    samples, seed = int(experiment.get("samples", 10000)), int(experiment.get("seed", 1))
    print(f"{experiment.get('name', 'experiment')}: {samples} samples, seed {seed}", flush=True)
    value = estimate(samples, seed)
    print(f"estimate {value:.6f}", flush=True)
    metrics = {"name": experiment.get("name"), "samples": samples, "seed": seed, "estimate": value}
    write(args.output_path, "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

EXPERIMENT_YAML = """\
# One experiment: what run.py reads (--experiment-file). Add more files beside it; --sync-to-s3 uploads them.
name: pi
samples: 20000
seed: 7
"""
