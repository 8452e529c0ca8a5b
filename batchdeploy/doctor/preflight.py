"""The preflight before a submit: the queue is ENABLED and VALID and some compute environment of it
could place the request (state, status, maxvCpus, instance types, Fargate's pairs). A pass is kept
in the state folder for TTL_S, keyed by queue and request shape, so a repeated run costs no request.
A failure is never kept: the next run looks again."""

from __future__ import annotations

import time

from batchdeploy.doctor import checks
from batchdeploy.doctor.diagnose import shape_of, with_overrides
from batchdeploy.doctor.examine import examine
from batchdeploy.errors import Unschedulable

CACHE = "preflight.json"
TTL_S = 300.0
_PLACING = (checks.queue_state, checks.ce_state, checks.fit, checks.platform)


def check(ctx, queue: str, job_definition: dict, request: dict, now=time.time) -> bool:
    """Raise Unschedulable when the queue cannot place `request`; True when AWS was asked, False when
    skipped (--no-preflight) or answered from the cache."""
    if getattr(ctx.args, "no_preflight", False):
        return False
    base = shape_of(job_definition.get("containerProperties"), job_definition.get("platformCapabilities"))
    shape = with_overrides(base, request.get("containerOverrides"))
    key = f"{queue}|{shape.key()}"
    cache = ctx.state.read(CACHE)
    entry = cache.get(key)
    if isinstance(entry, (int, float)) and 0 <= now() - entry < TTL_S:
        return False
    diagnosis = examine(ctx.aws, queue=queue, shape=shape, full=False)
    found = [x for c in _PLACING for x in c(diagnosis.facts)]
    placing = [ce for ce in diagnosis.facts.ces
               if ce.get("state") == "ENABLED" and ce.get("status") != "INVALID"
               and not any(x.ce == ce.get("computeEnvironmentArn") and x.never for x in found)]
    queue_bad = [x for x in found if x.check in ("queue-invalid", "queue-disabled", "queue-no-ce")]
    if queue_bad or not placing:
        first = (queue_bad or [x for x in found if x.ce] or found)[0] if found else None
        what = first.what if first else f"no compute environment of queue {queue} is ENABLED and VALID"
        more = f" ({len(found) - 1} more: ./deploy.sh --doctor)" if len(found) > 1 else ""
        raise Unschedulable(f"preflight: queue {queue} cannot place {shape.text()}: {what}{more}",
                            hint=f"fix: {first.fix}" if first else "enable one, or use --no-preflight to submit anyway")
    fresh = {k: v for k, v in cache.items() if isinstance(v, (int, float)) and 0 <= now() - v < TTL_S}
    ctx.state.write(CACHE, {**fresh, key: now()})
    return True
