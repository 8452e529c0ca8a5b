#!/usr/bin/env python3
"""The quickstart experiment: generate a data set from the experiment's seed, fit a small model to it
by gradient descent, and write metrics.json, metrics.jsonl (the loss per epoch), report.md and loss.svg
next to each other.

    run.py --experiment-file s3://BUCKET/experiments/linear.yaml --output-path s3://BUCKET/results/run1 \
           [--seed N|file] [--learning-rate X|file]

`--seed` and `--learning-rate` replace the experiment file's values (`file`, the job definition's
default, keeps them), so a sweep (sweep.tsv, or `--grid seed=1,2 learning_rate=0.1,0.05`) varies them.

Both arguments also take local paths, to try it without AWS. Only the standard library, PyYAML and
boto3 are used, so it runs on python:3.12-slim (with those two installed) and on the local stack's
Debian base image alike.

Everything from `make_data` to `run_experiment` is pure: given the same experiment it returns the same
numbers, which is how the tests check a run that happened inside a container.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys

MODELS = ("linear", "logistic")


class ExperimentError(ValueError):
    """The experiment file asks for something this code cannot do."""


# ---------------------------------------------------------------------------------------------
# Pure part


def array_index(environ) -> int | None:
    """The index of this child of an array job, or None for a plain job.

    AWS sets AWS_BATCH_JOB_ARRAY_INDEX; moto does not, but both name a child `PARENT:INDEX`.
    """
    value = environ.get("AWS_BATCH_JOB_ARRAY_INDEX", "")
    if value.isdigit():
        return int(value)
    _, sep, index = environ.get("AWS_BATCH_JOB_ID", "").rpartition(":")
    return int(index) if sep and index.isdigit() else None


def _number(cfg, key, kind, low=None):
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ExperimentError(f"{key} must be {'an integer' if kind is int else 'a number'}, not {value!r}")
    if low is not None and value < low:
        raise ExperimentError(f"{key} must be at least {low}, not {value!r}")
    return kind(value)


def parse_experiment(doc) -> dict:
    """The experiment with defaults filled in; ExperimentError names the first thing wrong."""
    if not isinstance(doc, dict):
        raise ExperimentError("the experiment file must be a mapping")
    data = doc.get("data") or {}
    fit = doc.get("fit") or {}
    if not isinstance(data, dict) or not isinstance(fit, dict):
        raise ExperimentError("data and fit must be mappings")
    model = doc.get("model", "linear")
    if model not in MODELS:
        raise ExperimentError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
    weights = data.get("weights")
    if not isinstance(weights, list) or not weights or not all(
        isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights
    ):
        raise ExperimentError("data.weights must be a non-empty list of numbers")
    return {
        "name": str(doc.get("name", "experiment")),
        "seed": _number(doc, "seed", int) if "seed" in doc else 0,
        "model": model,
        "n_samples": _number(data, "n_samples", int, 2) if "n_samples" in data else 200,
        "weights": [float(w) for w in weights],
        "bias": _number(data, "bias", float) if "bias" in data else 0.0,
        "noise": _number(data, "noise", float, 0) if "noise" in data else 0.1,
        "learning_rate": _number(fit, "learning_rate", float) if "learning_rate" in fit else 0.1,
        "epochs": _number(fit, "epochs", int, 1) if "epochs" in fit else 200,
        "log_every": _number(fit, "log_every", int, 1) if "log_every" in fit else 50,
    }


def with_overrides(exp: dict, seed: str = "file", learning_rate: str = "file") -> dict:
    """The experiment with `--seed`/`--learning-rate` applied; `file` keeps the file's value. A seed
    given here is the task's own: an array child does not add its index to it (see `run_experiment`)."""
    out = dict(exp)
    if seed != "file":
        try:
            out["seed"] = int(seed)
        except ValueError:
            raise ExperimentError(f"--seed must be an integer or file, not {seed!r}") from None
        out["seed_fixed"] = True
    if learning_rate != "file":
        try:
            value = float(learning_rate)
        except ValueError:
            value = float("nan")
        if not 0 < value < math.inf:
            raise ExperimentError(f"--learning-rate must be a number above 0 or file, not {learning_rate!r}")
        out["learning_rate"] = value
    return out


def output_location(output_path: str, index: int | None, environ) -> str:
    """Where the outputs go: an array child writes under its index, unless a sweep gave the task its
    own location already (the launcher's BATCHDEPLOY_OUTPUT is set)."""
    if index is None or environ.get("BATCHDEPLOY_OUTPUT"):
        return output_path
    return f"{output_path.rstrip('/')}/{index}"


def _normal(rng: random.Random) -> float:
    # Box-Muller on rng.random(), so the numbers depend on the seed alone and not on how a Python
    # version implements random.gauss.
    u1, u2 = rng.random(), rng.random()
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _dot(w, x) -> float:
    return sum(wi * xi for wi, xi in zip(w, x))


def make_data(exp: dict, seed: int):
    """Features from N(0, 1); targets from the experiment's true weights, bias and noise."""
    rng = random.Random(seed)
    xs, ys = [], []
    for _ in range(exp["n_samples"]):
        x = [_normal(rng) for _ in exp["weights"]]
        z = _dot(exp["weights"], x) + exp["bias"]
        if exp["model"] == "linear":
            y = z + exp["noise"] * _normal(rng)
        else:
            y = 1.0 if rng.random() < _sigmoid(z) else 0.0
        xs.append(x)
        ys.append(y)
    return xs, ys


def loss(model: str, w, b, xs, ys) -> float:
    """Mean squared error (linear) or mean log loss (logistic)."""
    total = 0.0
    for x, y in zip(xs, ys):
        z = _dot(w, x) + b
        if model == "linear":
            total += (z - y) ** 2
        else:
            p = min(max(_sigmoid(z), 1e-12), 1 - 1e-12)
            total -= y * math.log(p) + (1 - y) * math.log(1 - p)
    return total / len(xs)


def gradient_descent(model, xs, ys, learning_rate, epochs, log_every=50, progress=None):
    """Full-batch gradient descent from zeros; returns weights, bias and the loss after each epoch."""
    n, d = len(xs), len(xs[0])
    w, b = [0.0] * d, 0.0
    history = []
    for epoch in range(1, epochs + 1):
        gw, gb = [0.0] * d, 0.0
        for x, y in zip(xs, ys):
            z = _dot(w, x) + b
            # d(MSE)/dz = 2 (z - y); d(log loss)/dz = sigmoid(z) - y
            err = 2.0 * (z - y) if model == "linear" else _sigmoid(z) - y
            for j in range(d):
                gw[j] += err * x[j]
            gb += err
        w = [wj - learning_rate * g / n for wj, g in zip(w, gw)]
        b -= learning_rate * gb / n
        history.append(loss(model, w, b, xs, ys))
        if progress and (epoch % log_every == 0 or epoch == epochs):
            progress(f"epoch {epoch}/{epochs} loss {history[-1]:.6f}")
    return w, b, history


def least_squares(xs, ys):
    """The exact least-squares fit (normal equations, Gauss-Jordan with pivoting): the answer
    gradient descent on a linear model should approach."""
    rows = [x + [1.0] for x in xs]
    k = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(k)] + [sum(r[i] * y for r, y in zip(rows, ys))] for i in range(k)]
    for col in range(k):
        pivot = max(range(col, k), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            raise ExperimentError("the features are collinear; use more samples")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(k):
            if r != col:
                f = a[r][col] / a[col][col]
                a[r] = [v - f * p for v, p in zip(a[r], a[col])]
    solution = [a[i][k] / a[i][i] for i in range(k)]
    return solution[:-1], solution[-1]


def run_experiment(exp: dict, index: int | None = None, progress=None) -> dict:
    """Generate, fit and score one experiment; an array child uses seed + its index, unless the seed
    was given on the command line (`with_overrides`)."""
    seed = exp["seed"] + (0 if exp.get("seed_fixed") else index or 0)
    xs, ys = make_data(exp, seed)
    if progress:
        progress(f"{exp['name']}: {exp['model']} model, {len(xs)} samples, {len(xs[0])} features, seed {seed}")
    w, b, history = gradient_descent(
        exp["model"], xs, ys, exp["learning_rate"], exp["epochs"], exp["log_every"], progress
    )
    metrics = {
        "experiment": exp["name"],
        "model": exp["model"],
        "seed": seed,
        "array_index": index,
        "n_samples": len(xs),
        "n_features": len(xs[0]),
        "epochs": exp["epochs"],
        "learning_rate": exp["learning_rate"],
        "true_weights": exp["weights"],
        "true_bias": exp["bias"],
        "weights": w,
        "bias": b,
        "final_loss": history[-1],
    }
    if exp["model"] == "linear":
        mean = sum(ys) / len(ys)
        total = sum((y - mean) ** 2 for y in ys) / len(ys)
        metrics["r2"] = 1.0 - history[-1] / total if total else 0.0
        metrics["ols_weights"], metrics["ols_bias"] = least_squares(xs, ys)
    else:
        hits = sum((_dot(w, x) + b >= 0) == (y == 1.0) for x, y in zip(xs, ys))
        metrics["accuracy"] = hits / len(xs)
    return {"metrics": metrics, "loss_history": history}


MAX_PLOT_POINTS = 500  # however many epochs: the SVG stays a few kB and the curve readable


def downsample(history, max_points=MAX_PLOT_POINTS):
    """(epoch, loss) pairs, at most `max_points`: every epoch when they fit, else the lowest and the
    highest loss of each of max_points/2 equal runs of epochs (so a spike or a plateau is kept)."""
    n = len(history)
    if n <= max_points:
        return [(i + 1, v) for i, v in enumerate(history)]
    buckets = max_points // 2
    out = []
    for b in range(buckets):
        lo_i, hi_i = b * n // buckets, (b + 1) * n // buckets
        part = range(lo_i, hi_i)
        a, z = min(part, key=history.__getitem__), max(part, key=history.__getitem__)
        out += [(i + 1, history[i]) for i in sorted({a, z})]
    return out


def nice_ticks(lo, hi, count=5):
    """Round tick values (1, 2 or 5 times a power of ten apart) covering lo..hi."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + k * step, 12) for k in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v):
    return f"{v:.3g}"


def loss_svg(history, width=640, height=360, title="training loss") -> str:
    """The loss curve as a standalone SVG with axes, ticks, labels and a title (no plotting library in
    the image). At most MAX_PLOT_POINTS points (downsample); a log scale on y when the loss spans two
    decades or more, said on the axis."""
    from xml.sax.saxutils import escape

    points = downsample(list(history))
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    log = lo > 0 and hi / lo >= 100
    f = math.log10 if log else (lambda v: v)
    y_lo, y_hi = (math.floor(f(lo)), math.ceil(f(hi))) if log else (f(lo), f(hi))  # log: whole decades
    if y_hi - y_lo < 1e-12:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    n = len(history)
    left, right, top, bottom = 64, 16, 36, 48
    pw, ph = width - left - right, height - top - bottom

    def x(epoch):
        return left + pw * ((epoch - 1) / (n - 1) if n > 1 else 0.5)

    def y(v):
        return top + ph * (1 - (f(v) - y_lo) / (y_hi - y_lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    if log:
        y_ticks = [10.0 ** k for k in range(math.ceil(y_lo - 1e-9), math.floor(y_hi + 1e-9) + 1)]
    else:
        y_ticks = nice_ticks(lo, hi) if hi > lo else [lo]
    for v in y_ticks:
        parts.append(f'<line class="tick y" x1="{left - 4}" y1="{y(v):.1f}" x2="{left + pw}" y2="{y(v):.1f}" '
                     f'stroke="#ddd"/><text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
    for e in (nice_ticks(1, n) if n > 1 else [1]):
        if e >= 1 and e == int(e):
            parts.append(f'<line class="tick x" x1="{x(e):.1f}" y1="{top + ph}" x2="{x(e):.1f}" y2="{top + ph + 4}" '
                         f'stroke="black"/><text x="{x(e):.1f}" y="{top + ph + 16}" text-anchor="middle">{int(e)}</text>')
    parts += [
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>',
        f'<text x="{left + pw / 2:.0f}" y="{height - 10}" text-anchor="middle">epoch</text>',
        f'<text transform="translate(14 {top + ph / 2:.0f}) rotate(-90)" text-anchor="middle">'
        f'{"loss (log scale)" if log else "loss"}</text>',
        '<polyline fill="none" stroke="steelblue" stroke-width="2" points="'
        + " ".join(f"{x(e):.1f},{y(v):.1f}" for e, v in points) + '"/>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def report_md(metrics: dict) -> str:
    m = metrics
    lines = [
        f"# {m['experiment']}",
        "",
        f"{m['model']} model, {m['n_samples']} samples, seed {m['seed']}, "
        f"{m['epochs']} epochs of gradient descent at learning rate {m['learning_rate']}.",
        "",
        "| parameter | true | fitted |",
        "| --- | ---: | ---: |",
    ]
    for i, (t, f) in enumerate(zip(m["true_weights"], m["weights"])):
        lines.append(f"| w{i} | {t:.4f} | {f:.4f} |")
    lines.append(f"| bias | {m['true_bias']:.4f} | {m['bias']:.4f} |")
    lines += ["", f"Final loss: {m['final_loss']:.6f}"]
    if "r2" in m:
        lines.append(f"R²: {m['r2']:.4f}")
    if "accuracy" in m:
        lines.append(f"Accuracy: {m['accuracy']:.4f}")
    lines += ["", "![loss curve](loss.svg)", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Input and output


def _s3():
    import boto3

    # Debian bookworm's botocore (1.29) ignores AWS_ENDPOINT_URL, so it is passed on explicitly; on
    # AWS it is unset and boto3 uses the real endpoints and the job role's credentials.
    return boto3.client(
        "s3",
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
    )


def _split_s3(url: str):
    bucket, _, key = url[len("s3://") :].partition("/")
    if not bucket:
        raise ExperimentError(f"not an s3://BUCKET/KEY address: {url}")
    return bucket, key


def read_text(location: str) -> str:
    if location.startswith("s3://"):
        bucket, key = _split_s3(location)
        return _s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    with open(location, encoding="utf-8") as f:
        return f.read()


def write_outputs(location: str, files: dict) -> list:
    written = []
    if location.startswith("s3://"):
        bucket, prefix = _split_s3(location)
        client = _s3()
        for name, (body, content_type) in files.items():
            key = f"{prefix.rstrip('/')}/{name}" if prefix else name
            client.put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type)
            written.append(f"s3://{bucket}/{key}")
    else:
        os.makedirs(location, exist_ok=True)
        for name, (body, _) in files.items():
            path = os.path.join(location, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(body)
            written.append(path)
    return written


def main(argv=None, environ=None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(description="Fit a small model to data generated from an experiment file.")
    parser.add_argument("--experiment-file", required=True, help="s3://BUCKET/KEY.yaml or a local path")
    parser.add_argument("--output-path", required=True, help="s3://BUCKET/PREFIX or a local folder")
    parser.add_argument("--seed", default="file", help="the data's seed, or file (the experiment file's)")
    parser.add_argument("--learning-rate", default="file", help="a number above 0, or file (the experiment file's)")
    args = parser.parse_args(argv)

    def say(line):
        # flush: the job's log is all a user sees of a run
        print(line, flush=True)

    import yaml
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        exp = with_overrides(parse_experiment(yaml.safe_load(read_text(args.experiment_file))),
                             args.seed, args.learning_rate)
    except (ExperimentError, yaml.YAMLError) as e:
        print(f"run.py: {args.experiment_file}: {e}", file=sys.stderr, flush=True)
        return 2
    except (OSError, BotoCoreError, ClientError) as e:
        print(f"run.py: cannot read {args.experiment_file}: {e}", file=sys.stderr, flush=True)
        return 1
    index = array_index(environ)
    output = output_location(args.output_path, index, environ)
    result = run_experiment(exp, index, progress=say)
    metrics = result["metrics"]
    files = {
        "metrics.json": (json.dumps(metrics, indent=2) + "\n", "application/json"),
        # the loss curve as a series (batchdeploy report overlays the tasks' curves), as many points as the plot
        "metrics.jsonl": ("".join(json.dumps({"epoch": e, "loss": v}) + "\n" for e, v in downsample(result["loss_history"])),
                          "application/x-ndjson"),
        "report.md": (report_md(metrics), "text/markdown"),
        "loss.svg": (loss_svg(result["loss_history"], title=f"{metrics['experiment']}: loss per epoch"), "image/svg+xml"),
    }
    try:
        written = write_outputs(output, files)
    except (OSError, BotoCoreError, ClientError) as e:
        print(f"run.py: cannot write to {output}: {e}", file=sys.stderr, flush=True)
        return 1
    for where in written:
        say(f"wrote {where}")
    say(f"done: final loss {metrics['final_loss']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
