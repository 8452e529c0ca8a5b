"""How a sweep's mistakes reach the user: every problem collected, then one UsageError of one line."""

from __future__ import annotations

from batchdeploy.errors import UsageError

DEFAULT_MAX_TASKS = 10_000  # MAX_SWEEP_TASKS's default: AWS Batch's largest array
MAX_LISTED = 10  # problems named in the one line; the rest are counted


def raise_problems(shown: str, problems: list[str], hint: str | None = None) -> None:
    """Nothing when `problems` is empty; else one UsageError naming the first MAX_LISTED of them."""
    if not problems:
        return
    listed = "; ".join(p.replace("\n", " ") for p in problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    if more > 0:
        listed += f"; and {more} more"
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    raise UsageError(f"{shown}: {count}: {listed}", hint=hint)


def check_count(count: int, max_tasks: int, shown: str) -> None:
    """A sweep of more tasks than MAX_SWEEP_TASKS is refused before anything is built from it."""
    if count > max_tasks:
        raise UsageError(
            f"{shown}: {count:,} tasks, above MAX_SWEEP_TASKS={max_tasks}",
            hint="raise MAX_SWEEP_TASKS to split the sweep into several arrays, or select fewer tasks",
        )


def varying(columns: dict[str, list[str]]) -> list[str]:
    """The columns (in order) whose values are not all the same: what tells tasks apart in a table."""
    return [name for name, values in columns.items() if len(set(values)) > 1]
