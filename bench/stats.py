"""The pure parts of the benchmark: reading request logs, naming requests, statistics, targets, tables.

Nothing here starts a process or touches the network, so tests/unit/test_bench_stats.py can check it.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

# Reading a request log belongs to the moto start-up (tests count AWS calls the same way).
from batchdeploy.local.moto import LOG_LINE, Request, parse_requests  # noqa: F401

# Batch's REST paths are /v1/<operation in lower case>; the names users know, for the tables.
BATCH_OPERATIONS = {
    "submitjob": "SubmitJob",
    "describejobs": "DescribeJobs",
    "listjobs": "ListJobs",
    "terminatejob": "TerminateJob",
    "canceljob": "CancelJob",
    "registerjobdefinition": "RegisterJobDefinition",
    "deregisterjobdefinition": "DeregisterJobDefinition",
    "describejobdefinitions": "DescribeJobDefinitions",
    "describejobqueues": "DescribeJobQueues",
    "describecomputeenvironments": "DescribeComputeEnvironments",
    "createcomputeenvironment": "CreateComputeEnvironment",
    "createjobqueue": "CreateJobQueue",
    "tags": "Tags",
}

# Query keys of a bucket-level GET that make it a listing (ListObjects/ListObjectsV2).
_LIST_KEYS = {"list-type", "prefix", "delimiter", "marker", "continuation-token", "max-keys", "encoding-type", "start-after"}


def classify_s3(method: str, path: str) -> str:
    """PUT, GET, LIST, HEAD, POST or DELETE for a path-style S3 request (`/bucket/key?query`).

    PUT counts object writes (PutObject, UploadPart, CopyObject); POST is CreateMultipartUpload,
    CompleteMultipartUpload and DeleteObjects; LIST is a bucket-level GET that lists keys.
    """
    parts = urlsplit(path)
    segments = parts.path.lstrip("/").split("/", 1)
    has_key = len(segments) == 2 and segments[1] != ""
    if method == "GET" and not has_key:
        query = set(parse_qs(parts.query, keep_blank_values=True))
        return "LIST" if not query or query & _LIST_KEYS else "GET"
    return method


def classify(method: str, path: str) -> str:
    """One label per request: Batch operations by name, `POST /` for the JSON/query APIs (STS, ECR, IAM,
    Logs, which all post to the root), S3 by method (see classify_s3)."""
    p = urlsplit(path).path
    if p.startswith("/v1/"):
        op = p[len("/v1/") :].split("/", 1)[0].lower()
        return BATCH_OPERATIONS.get(op, f"batch:{op}")
    if p == "/" and method == "POST":
        return "POST /"
    return classify_s3(method, path)


_REGISTRY = re.compile(r"^/v2/(?:(?P<name>.+?)/(?P<kind>manifests|blobs|tags)(?P<rest>/.*)?)?$")


def classify_registry(method: str, path: str) -> str:
    """A registry (OCI distribution) request: `push` is a manifest PUT (one per pushed tag), `blob upload`
    any step of uploading a layer, `look-up` a HEAD/GET of a manifest or blob, `ping` the /v2/ check."""
    m = _REGISTRY.match(urlsplit(path).path)
    if not m:
        return f"{method} other"
    if m["name"] is None:
        return "ping"
    kind, rest = m["kind"], m["rest"] or ""
    if kind == "manifests":
        return "push" if method == "PUT" else "look-up"
    if kind == "blobs" and rest.startswith("/uploads"):
        return "blob upload"
    if kind == "blobs":
        return "look-up" if method in ("HEAD", "GET") else f"{method} blob"
    return "look-up"


def count(requests: list[Request], classifier=classify) -> Counter:
    return Counter(classifier(r.method, r.path) for r in requests)


def errors(requests: list[Request]) -> int:
    """Requests the server answered with 5xx (a 404 for HEAD of a missing key is normal)."""
    return sum(1 for r in requests if r.status >= 500)


def import_profile(stderr: str) -> tuple[float, list[tuple[str, float]]]:
    """Python's `-X importtime` report: (seconds spent in top-level imports, [(module, seconds)] largest
    first). Lines read `import time: self [us] | cumulative | package`, nesting shown by indentation."""
    total = 0.0
    top: list[tuple[str, float]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2][1:] if parts[2].startswith(" ") else parts[2]
        if name.startswith(" "):
            continue  # imported by another module: already inside that one's cumulative time
        seconds = int(parts[1]) / 1e6
        total += seconds
        top.append((name.strip(), seconds))
    top.sort(key=lambda item: item[1], reverse=True)
    return total, top


# ----------------------------------------------------------------------------------------------
# Statistics


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    low: float
    high: float
    q1: float
    q3: float

    @property
    def spread(self) -> float:
        return self.high - self.low


def summarize(values: list[float]) -> Summary:
    if not values:
        raise ValueError("no values to summarize")
    vals = sorted(values)
    if len(vals) >= 2:
        q1, _, q3 = statistics.quantiles(vals, n=4, method="inclusive")
    else:
        q1 = q3 = vals[0]
    return Summary(len(vals), statistics.median(vals), vals[0], vals[-1], q1, q3)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs <= 0:
        return None
    return ours / theirs


def extrapolate(seconds: float, measured_n: int, target_n: int) -> float:
    """Linear: a loop of `measured_n` calls took `seconds`; what would `target_n` take."""
    if measured_n <= 0:
        raise ValueError("measured_n must be positive")
    return seconds / measured_n * target_n


def describe_floor(n_jobs: int) -> int:
    """DescribeJobs takes at most 100 ids: the fewest calls one poll of n jobs can make."""
    return math.ceil(n_jobs / 100)


def list_floor(n_keys: int) -> int:
    """ListObjectsV2 pages hold at most 1,000 keys: the fewest listings of n keys (at least one)."""
    return max(1, math.ceil(n_keys / 1000))


def rotate(items: list, by: int) -> list:
    """Round r runs the sides in a rotated order (A B C, B C A, ...), so no side always goes first."""
    if not items:
        return []
    k = by % len(items)
    return list(items[k:]) + list(items[:k])


# ----------------------------------------------------------------------------------------------
# Targets


PASS, MISS, NOT_RUN = "PASS", "MISS", "NOT RUN"


def verdict(value: float | None, limit: float, kind: str = "max") -> str:
    """PASS when `value` meets `limit`: kind "max" (value <= limit), "min" (value >= limit), "eq"."""
    if value is None:
        return NOT_RUN
    if kind == "max":
        ok = value <= limit
    elif kind == "min":
        ok = value >= limit
    elif kind == "eq":
        ok = value == limit
    else:
        raise ValueError(f"unknown target kind {kind!r}")
    return PASS if ok else MISS


# ----------------------------------------------------------------------------------------------
# Formatting


def fmt_seconds(x: float | None) -> str:
    if x is None:
        return "–"
    if x < 1:
        return f"{x * 1000:.0f} ms" if x >= 0.0095 else f"{x * 1000:.1f} ms"
    if x < 100:
        return f"{x:.2f} s"
    return f"{x:.0f} s"


def fmt_spread(s: Summary) -> str:
    if s.n == 1:
        return "(1 run)"
    return f"{fmt_seconds(s.low)} – {fmt_seconds(s.high)} (IQR {fmt_seconds(s.q1)} – {fmt_seconds(s.q3)})"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "–"
    return f"{r:.4f}" if r < 0.01 else f"{r:.2f}"


def fmt_counts(counter: Counter | dict, order: tuple[str, ...] = ()) -> str:
    """`PUT 2000, LIST 1`: the labels in `order` first, then the rest alphabetically; zeros left out."""
    keys = [k for k in order] + sorted(k for k in counter if k not in order)
    shown = [f"{k} {_num(counter[k])}" for k in keys if counter.get(k)]
    return ", ".join(shown) if shown else "none"


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def median_counts(counters: list[Counter]) -> dict[str, float]:
    """Per label, the median over the rounds (request counts are usually identical from round to round)."""
    labels = set().union(*counters) if counters else set()
    return {k: statistics.median([c.get(k, 0) for c in counters]) for k in sorted(labels)}


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
