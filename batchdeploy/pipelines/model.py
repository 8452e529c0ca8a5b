"""A pipeline as plain data, whichever file it came from (no AWS here).

A step's default output location is `s3://S3_BUCKET/RESULTS_PREFIX/RUN_ID/STEP/` (a map step's task T:
`.../STEP/T/`); a value may name an earlier step's with `{steps.NAME.output}` (expanded by the
executor, which knows the run id). Dependencies are AWS's: `all` waits for the whole step (for a map
step: every child), `N_TO_N` pairs child i with child i of a map step of the same size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchdeploy.sweeps.model import Sweep

DEPENDENCY_TYPES = ("all", "N_TO_N")
RUN_KIND = "pipeline"  # run.json's "kind" for a pipeline run


@dataclass(frozen=True)
class Dependency:
    step: str
    type: str = "all"  # DEPENDENCY_TYPES


@dataclass(frozen=True)
class Step:
    name: str  # unique in the pipeline; [A-Za-z0-9_-], it goes into job names
    job_definition: str | None = None  # NAME[:REV] or ARN; None: the project's (the one -u recorded)
    parameters: dict[str, str] = field(default_factory=dict)  # Ref::NAME values, may hold {steps.X.output}
    environment: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None  # replaces the definition's command (Ref:: kept), as `-r ... --`
    vcpus: str | None = None
    memory: str | None = None
    gpus: str | None = None
    timeout: int | None = None
    retries: int | None = None
    depends_on: list[Dependency] = field(default_factory=list)
    map: Sweep | None = None  # a map step: one array job, one child per task of this sweep
    line: int | None = None  # where the step starts in the file, for messages


@dataclass(frozen=True)
class Pipeline:
    name: str
    steps: list[Step]  # in the file's order; `order()` of the reader gives a dependency order
    settings: dict = field(default_factory=dict)  # queue, region, tags, job_definition, code: the file's defaults
    source: dict = field(default_factory=dict)  # {"file": path, "sha256": hex}
