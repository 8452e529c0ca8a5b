"""Print what pip must install beside triage: triage's requirements and aequitas's, minus aequitas itself
(installed with --no-deps) and torch. aequitas 1.0.0 requires torch (with CUDA: 6 GB of the image) for
one neural-network estimator in aequitas.flow that triage never uses; triage imports aequitas's bias,
fairness and group audit, which need pandas, scipy, seaborn and altair, never torch.

Run by the Dockerfile's build stage, in the venv where triage and aequitas are installed."""

from __future__ import annotations

from packaging.requirements import Requirement

DISTS = ("triage", "aequitas")
LEFT_OUT = {"aequitas", "torch"}


def needed(requirements: dict[str, list[str]]) -> list[str]:
    """The requirement lines of each distribution (as importlib.metadata.requires gives them), without
    extras-only lines and without LEFT_OUT; the first line for a name wins."""
    out, seen = [], set()
    for dist in DISTS:
        for line in requirements.get(dist) or []:
            req = Requirement(line)
            name = req.name.lower().replace("_", "-")
            if req.marker is None and name not in LEFT_OUT and name not in seen:
                seen.add(name)
                out.append(str(req))
    return out


if __name__ == "__main__":
    from importlib.metadata import requires

    print("\n".join(needed({dist: requires(dist) or [] for dist in DISTS})))
