#!/usr/bin/env python3
"""The triage chapter's experiment, shaped like a triage run: the data lives in PostgreSQL, the
experiment file (YAML in S3) says how to read a cohort, its labels and its features as of a date with
SQL, and which models to train over a grid of parameters; the results go back to the database
(results.models, results.evaluations) and to S3 (evaluations.json, metrics.json).

    chapter.py load --rows N --seed S              put a generated data set into raw.* (a data-loading step)
    chapter.py experiment --experiment-file s3://BUCKET/experiments/inspections.yaml \
                          --output-path s3://BUCKET/results/RUN

The connection comes from triage's keys: POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, POSTGRES_DB
(the job definition's environment, filled from env-overrides.json) and POSTGRES_PASSWORD (given by
reference: SECRETS in .aws_env, resolved by AWS Batch when the container starts).

A database error is one line on stderr with the server's own message, and exit 1; a bad experiment
file exit 2. Everything below "Pure part" is pure, so the tests check numbers made inside a container.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import random
import sys

FACILITY_TYPES = ("restaurant", "grocery", "school", "bakery")
MODELS = ("logistic", "baseline")  # what grid_config may name


class ExperimentError(ValueError):
    """The experiment file asks for something this code cannot do."""


# ---------------------------------------------------------------------------------------------
# Pure part


def make_data(rows: int, seed: int):
    """`rows` facilities and their inspections, 2022-2024: each facility has a hidden risk that makes
    failed inspections (and violations) likelier, so past failures predict future ones, not perfectly."""
    rng = random.Random(seed)
    facilities, inspections = [], []
    for entity_id in range(1, rows + 1):
        kind = FACILITY_TYPES[rng.randrange(len(FACILITY_TYPES))]
        opened = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(9 * 365))
        risk = rng.gauss(-1.2 + (0.6 if kind == "restaurant" else 0.0), 1.0)
        facilities.append((entity_id, kind, f"606{rng.randrange(10, 60)}", opened))
        day = max(opened, dt.date(2022, 1, 1)) + dt.timedelta(days=rng.randrange(90))
        while day < dt.date(2025, 1, 1):
            p_fail = 1 / (1 + math.exp(-risk))
            failed = rng.random() < p_fail
            violations = sum(rng.random() < p_fail for _ in range(6))
            inspections.append((entity_id, day, "fail" if failed else "pass", violations))
            day += dt.timedelta(days=60 + rng.randrange(120))
    return facilities, inspections


def parse_experiment(doc) -> dict:
    """The experiment file, checked: every key this code reads, with its type."""
    if not isinstance(doc, dict):
        raise ExperimentError("the experiment file must be a mapping")
    need = {"cohort_config": dict, "label_config": dict, "feature_config": list, "temporal_config": dict,
            "grid_config": dict}
    for key, kind in need.items():
        if not isinstance(doc.get(key), kind):
            raise ExperimentError(f"{key} must be a {'mapping' if kind is dict else 'list'}")
    temporal = doc["temporal_config"]
    for key in ("train_as_of", "test_as_of"):
        if not isinstance(temporal.get(key), (str, dt.date)):
            raise ExperimentError(f"temporal_config.{key} must be a date (YYYY-MM-DD)")
    if str(temporal["train_as_of"]) >= str(temporal["test_as_of"]):
        raise ExperimentError("temporal_config.train_as_of must come before test_as_of")
    unknown = set(doc["grid_config"]) - set(MODELS)
    if unknown:
        raise ExperimentError(f"grid_config names {', '.join(sorted(unknown))}; known: {', '.join(MODELS)}")
    for section in ("cohort_config", "label_config"):
        if not isinstance(doc[section].get("query"), str):
            raise ExperimentError(f"{section}.query must be SQL text")
    if not all(isinstance(f, dict) and isinstance(f.get("query"), str) for f in doc["feature_config"]):
        raise ExperimentError("each feature_config entry needs a query (SQL returning entity_id and features)")
    return doc


def grid(grid_config: dict):
    """(model, {parameter: value}) for every combination, as triage's grid_config expands."""
    for model in sorted(grid_config):
        params = grid_config[model] or {}
        names = sorted(params)
        for values in itertools.product(*(params[n] if isinstance(params[n], list) else [params[n]] for n in names)):
            yield model, dict(zip(names, values))


def standardise(train, test):
    cols = list(zip(*train))
    means = [sum(c) / len(c) for c in cols]
    sds = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) or 1.0 for c, m in zip(cols, means)]

    def scale(rows):
        return [[(v - m) / s for v, m, s in zip(r, means, sds)] for r in rows]

    return scale(train), scale(test)


def fit_logistic(x, y, learning_rate: float, l2: float, epochs: int = 300):
    w, b = [0.0] * len(x[0]), 0.0
    n = len(x)
    for _ in range(epochs):
        gw, gb = [l2 * wi for wi in w], 0.0
        for xi, yi in zip(x, y):
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, b + sum(a * c for a, c in zip(w, xi))))))
            for j, v in enumerate(xi):
                gw[j] += (p - yi) * v / n
            gb += (p - yi) / n
        w = [wi - learning_rate * g for wi, g in zip(w, gw)]
        b -= learning_rate * gb
    return lambda row: b + sum(a * c for a, c in zip(w, row))


def baseline(names: list[str], feature: str):
    if feature not in names:
        raise ExperimentError(f"baseline feature {feature!r} is not among the features: {', '.join(names)}")
    j = names.index(feature)
    return lambda row: row[j]


def precision_at(scores, labels, percent: float) -> float:
    k = max(1, round(len(scores) * percent / 100))
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    return sum(labels[i] for i in ranked) / k


def auc(scores, labels) -> float:
    """The chance a random positive outranks a random negative (ties count a half)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def evaluate(train, test, names, grid_config, percents) -> list[dict]:
    """Every grid model trained on `train` (rows of features, labels) and scored on `test`."""
    (xtr, ytr), (xte, yte) = train, test
    str_, ste = standardise(xtr, xte)
    out = []
    for model, params in grid(grid_config):
        if model == "logistic":
            score = fit_logistic(str_, ytr, float(params.get("learning_rate", 0.5)), float(params.get("l2", 0.0)))
            scores = [score(r) for r in ste]
        else:
            scores = [baseline(names, params.get("feature", names[0]))(r) for r in xte]
        metrics = {f"precision@{p}%": round(precision_at(scores, yte, p), 6) for p in percents}
        metrics["auc"] = round(auc(scores, yte), 6)
        out.append({"model_type": model, "hyperparameters": params, "metrics": metrics})
    return out


# ---------------------------------------------------------------------------------------------
# The database


class NotConfigured(Exception):
    """A POSTGRES_* key the job needs is missing or empty."""


def connect():
    import psycopg2

    missing = [k for k in ("POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_DB") if not os.environ.get(k)]
    if missing:
        raise NotConfigured(", ".join(missing))
    return psycopg2.connect(
        host=os.environ["POSTGRES_HOST"], port=int(os.environ.get("POSTGRES_PORT") or 5432),
        user=os.environ["POSTGRES_USER"], password=os.environ.get("POSTGRES_PASSWORD", ""),
        dbname=os.environ["POSTGRES_DB"], connect_timeout=15, application_name="triage-chapter",
    )


SCHEMA = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS results;
CREATE TABLE IF NOT EXISTS raw.facilities (entity_id int PRIMARY KEY, facility_type text NOT NULL,
    zip text NOT NULL, opened date NOT NULL);
CREATE TABLE IF NOT EXISTS raw.inspections (entity_id int NOT NULL REFERENCES raw.facilities,
    inspected_on date NOT NULL, result text NOT NULL, violations int NOT NULL);
CREATE TABLE IF NOT EXISTS results.models (model_id serial PRIMARY KEY, job_id text NOT NULL,
    experiment text NOT NULL, model_type text NOT NULL, hyperparameters jsonb NOT NULL,
    train_as_of date NOT NULL, test_as_of date NOT NULL, trained_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS results.evaluations (model_id int NOT NULL REFERENCES results.models ON DELETE CASCADE,
    metric text NOT NULL, value double precision, PRIMARY KEY (model_id, metric));
"""


def load(conn, rows: int, seed: int) -> tuple[int, int]:
    """The data set, replaced whole in one transaction: a retried load leaves one copy, never two."""
    facilities, inspections = make_data(rows, seed)
    with conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
        cur.execute("TRUNCATE raw.inspections, raw.facilities")
        cur.executemany("INSERT INTO raw.facilities VALUES (%s, %s, %s, %s)", facilities)
        cur.executemany("INSERT INTO raw.inspections VALUES (%s, %s, %s, %s)", inspections)
    return len(facilities), len(inspections)


def matrix(cur, exp: dict, as_of):
    """(entity ids, feature names, rows, labels) of the cohort as of `as_of`: triage's matrix, small."""
    bind = {"as_of_date": str(as_of), "label_timespan": exp["label_config"].get("timespan", "6 months")}
    cur.execute(exp["cohort_config"]["query"], bind)
    cohort = [r[0] for r in cur.fetchall()]
    cur.execute(exp["label_config"]["query"], bind)
    labels = {r[0]: int(r[1]) for r in cur.fetchall()}
    names, values = [], {e: [] for e in cohort}
    for feature in exp["feature_config"]:
        cur.execute(feature["query"], bind)
        cols = [d[0] for d in cur.description][1:]
        got = {r[0]: [float(v or 0) for v in r[1:]] for r in cur.fetchall()}
        names += cols
        for e in cohort:
            values[e] += got.get(e, [0.0] * len(cols))  # no rows: zero, as triage imputes counts
    kept = [e for e in cohort if e in labels]
    return kept, names, [values[e] for e in kept], [labels[e] for e in kept]


def store(conn, job_id: str, exp: dict, evaluations: list[dict]) -> list[int]:
    """One transaction: this job's earlier rows (a retried attempt) go, the new ones come."""
    t = exp["temporal_config"]
    ids = []
    with conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
        cur.execute("DELETE FROM results.models WHERE job_id = %s", (job_id,))
        for ev in evaluations:
            cur.execute(
                "INSERT INTO results.models (job_id, experiment, model_type, hyperparameters, train_as_of, test_as_of)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING model_id",
                (job_id, exp.get("model_comment", ""), ev["model_type"], json.dumps(ev["hyperparameters"]),
                 str(t["train_as_of"]), str(t["test_as_of"])))
            model_id = cur.fetchone()[0]
            ids.append(model_id)
            cur.executemany("INSERT INTO results.evaluations VALUES (%s, %s, %s)",
                            [(model_id, k, None if math.isnan(v) else v) for k, v in ev["metrics"].items()])
    return ids


# ---------------------------------------------------------------------------------------------
# S3 and the command line


def _s3():
    import boto3

    # Debian bookworm's botocore ignores AWS_ENDPOINT_URL, so it is passed on explicitly.
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
                        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None)


def _split(url: str):
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def read_text(location: str) -> str:
    if location.startswith("s3://"):
        return _s3().get_object(Bucket=_split(location)[0], Key=_split(location)[1])["Body"].read().decode()
    with open(location, encoding="utf-8") as f:
        return f.read()


def write_json(location: str, name: str, doc) -> str:
    body = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if location.startswith("s3://"):
        bucket, prefix = _split(location)
        key = f"{prefix.rstrip('/')}/{name}"
        _s3().put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
        return f"s3://{bucket}/{key}"
    os.makedirs(location, exist_ok=True)
    with open(os.path.join(location, name), "w", encoding="utf-8") as f:
        f.write(body)
    return os.path.join(location, name)


def experiment(args) -> int:
    import yaml

    try:
        exp = parse_experiment(yaml.safe_load(read_text(args.experiment_file)))
    except (ExperimentError, yaml.YAMLError) as e:
        print(f"chapter.py: {args.experiment_file}: {e}", file=sys.stderr, flush=True)
        return 2
    t, percents = exp["temporal_config"], exp.get("scoring", {}).get("precision_at", [10])
    with connect() as conn, conn.cursor() as cur:
        _, names, xtr, ytr = matrix(cur, exp, t["train_as_of"])
        _, _, xte, yte = matrix(cur, exp, t["test_as_of"])
    print(f"matrices: train {len(xtr)} rows as of {t['train_as_of']}, test {len(xte)} as of {t['test_as_of']}, "
          f"features {', '.join(names)}", flush=True)
    evaluations = evaluate((xtr, ytr), (xte, yte), names, exp["grid_config"], percents)
    job_id = os.environ.get("AWS_BATCH_JOB_ID") or "local"
    ids = store(connect(), job_id, exp, evaluations)
    for model_id, ev in zip(ids, evaluations):
        print(f"model {model_id}: {ev['model_type']} {json.dumps(ev['hyperparameters'], sort_keys=True)} "
              f"{json.dumps(ev['metrics'], sort_keys=True)}", flush=True)
    best = max(evaluations, key=lambda ev: ev["metrics"][f"precision@{percents[0]}%"])
    print("wrote", write_json(args.output_path, "evaluations.json", evaluations), flush=True)
    print("wrote", write_json(args.output_path, "metrics.json", {"best_model": best["model_type"], **best["metrics"],
                                                               "train_rows": len(xtr), "test_rows": len(xte)}), flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The triage chapter's experiment: data in PostgreSQL, results back.")
    parser.add_argument("step", choices=("load", "experiment"))
    parser.add_argument("--rows", type=int, default=400, help="load: facilities to generate")
    parser.add_argument("--seed", type=int, default=7, help="load: the data's seed")
    parser.add_argument("--experiment-file", help="experiment: s3://BUCKET/KEY.yaml or a local path")
    parser.add_argument("--output-path", help="experiment: s3://BUCKET/PREFIX or a local folder")
    args = parser.parse_args(argv)
    import psycopg2

    try:
        if args.step == "load":
            facilities, inspections = load(connect(), args.rows, args.seed)
            print(f"loaded {facilities} facilities and {inspections} inspections into raw.*", flush=True)
            return 0
        if not (args.experiment_file and args.output_path):
            parser.error("experiment needs --experiment-file and --output-path")
        return experiment(args)
    except psycopg2.Error as e:
        # The server's own words (e.g. "password authentication failed for user ..."), one line.
        message = " ".join(str(e).split()) or type(e).__name__
        print(f"chapter.py: database: {message}", file=sys.stderr, flush=True)
        return 1
    except ExperimentError as e:
        print(f"chapter.py: {args.experiment_file}: {e}", file=sys.stderr, flush=True)
        return 2
    except NotConfigured as e:
        print(f"chapter.py: {e} not set: give the job POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, POSTGRES_DB "
              "(env-overrides.json; locally: source <(scripts/local-stack.sh env) before -r)", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
