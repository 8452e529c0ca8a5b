"""Fit a line per learning rate on AWS Batch with batchdeploy's functions API, and print the best.

    python examples/functions/fit.py [IMAGE]      # from a project folder (its .aws_env), after -b and -u

Each learning rate is one call of `fit`; `.map` runs all of them as ONE array job and returns the
results in order. Pure Python (the image is Debian's python3, no numpy). A rate that diverges raises
in its container; with return_exceptions=True its exception comes back in its place, with the remote
traceback, and the other rates' results are kept.
"""

from __future__ import annotations

import random
import sys

from batchdeploy.functions import batch

RATES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]


def data(n=200, seed=7):
    rnd = random.Random(seed)
    xs = [rnd.uniform(-1, 1) for _ in range(n)]
    return xs, [2.5 * x - 0.7 + rnd.gauss(0, 0.1) for x in xs]


def fit(rate, epochs=300):
    """Gradient descent on y = w x + b; the mean squared error at the end. Raises when it diverges."""
    xs, ys = data()
    w = b = 0.0
    for _ in range(epochs):
        gw = sum(2 * (w * x + b - y) * x for x, y in zip(xs, ys)) / len(xs)
        gb = sum(2 * (w * x + b - y) for x, y in zip(xs, ys)) / len(xs)
        w, b = w - rate * gw, b - rate * gb
        if abs(w) > 1e6:
            raise ArithmeticError(f"rate {rate} diverged (w={w:.3g})")
    loss = sum((w * x + b - y) ** 2 for x, y in zip(xs, ys)) / len(xs)
    print(f"rate {rate}: w={w:.3f} b={b:.3f} loss={loss:.5f}")
    return {"rate": rate, "w": w, "b": b, "loss": loss}


def main(argv: list[str]) -> int:
    options = {"vcpus": 1, "memory": 256}
    if argv:
        options["image"] = argv[0]
    remote = batch(fit, **options)
    results = remote.map(RATES, return_exceptions=True)
    good = [r for r in results if isinstance(r, dict)]
    for rate, r in zip(RATES, results):
        print(f"  {rate:<6} " + (f"loss {r['loss']:.5f}" if isinstance(r, dict) else f"failed: {type(r).__name__}: {str(r).splitlines()[0]}"))
    best = min(good, key=lambda r: r["loss"])
    print(f"best: rate {best['rate']} loss {best['loss']:.5f} (w={best['w']:.3f}, b={best['b']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
