"""The report as one HTML page, pure: inline CSS, inline SVG, a few lines of inline JS (sorting, and an
error marker a headless browser's DOM dump reveals). No URL is fetched when it opens."""

from __future__ import annotations

from html import escape

from batchdeploy.pipelines.model import RUN_KIND
from batchdeploy.report import svg
from batchdeploy.report.model import (
    Run,
    Task,
    constant_metrics,
    fmt,
    metric_names,
    numeric,
    parse_time,
    seconds,
    series_names,
    varying,
    what_ran,
)

MAX_PLOTS = 36

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
th{background:#f4f4f4;position:sticky;top:0}table.sortable th{cursor:pointer}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.side{display:flex;flex-wrap:wrap;gap:24px}.plots{display:flex;flex-wrap:wrap;gap:12px}
.plot text{font-size:11px;fill:#333}.plot .title{font-size:13px;font-weight:600}.plot .legend{font-size:11px}
.plot .axis{stroke:#333}figure{margin:0}figcaption{max-width:460px;font-size:12px}.plot .grid{stroke:#e4e4e4}
.FAILED{color:#c00;font-weight:600}.SUCCEEDED{color:#070}
pre{background:#f7f7f7;padding:6px;max-width:900px;overflow:auto;font-size:12px}
"""

# window.onerror first, so an error anywhere later leaves its marker for `chromium --dump-dom`.
JS = """
window.onerror=function(m){var d=document.createElement('div');d.id='script-error';
d.textContent='script error: '+m;document.body.appendChild(d);};
document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
  var asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';var b=t.tBodies[0];
  var rows=Array.prototype.slice.call(b.rows);rows.sort(function(a,c){
   var x=a.cells[i].dataset.v||a.cells[i].textContent,y=c.cells[i].dataset.v||c.cells[i].textContent;
   var nx=parseFloat(x),ny=parseFloat(y);var r=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);
   return asc?r:-r;});rows.forEach(function(r){b.appendChild(r);});});});});
document.documentElement.setAttribute('data-js','ok');
"""


def _cell(value) -> str:
    n = numeric(value) if not isinstance(value, str) else None
    if n is not None:
        return f'<td class="num" data-v="{n}">{escape(fmt(value))}</td>'
    return f"<td>{escape(fmt(value))}</td>"


def _ts(text: str | None) -> float | None:
    t = parse_time(text)
    return t.timestamp() if t else None


def tasks_table(runs: list[Run]) -> str:
    tasks = [t for r in runs for t in r.tasks]
    params, metrics = varying(tasks), metric_names(tasks)
    several = len(runs) > 1
    head = ["run"] * several + ["task", *params, "state", "exit", "seconds", "peak MiB", "CPU s", *metrics]
    rows = []
    for t in tasks:
        cells = [f"<td>{escape(t.run_id)}</td>"] * several + [_cell(t.task), *(_cell(t.params.get(p)) for p in params),
                 f'<td class="{escape(t.state)}">{escape(t.state)}</td>', _cell(t.exit_code),
                 _cell(seconds(t.started_at, t.ended_at)), _cell(t.peak_memory_mib), _cell(t.cpu_s),
                 *(_cell(t.metrics.get(m)) for m in metrics)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<table class="sortable" id="tasks"><thead><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def what_ran_table(run: Run) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in what_ran(run.run))
    return f'<div><h3>{escape(run.run_id)}</h3><table class="what-ran">{rows}</table></div>'


def metric_plots(runs: list[Run]) -> list[str]:
    """Each metric against each varying numeric parameter, a colour per run."""
    tasks = [t for r in runs for t in r.tasks]
    out = []
    for m in metric_names(tasks):
        for p in varying(tasks):
            groups = {}
            for r in runs:
                pts = [(numeric(t.params.get(p)), numeric(t.metrics.get(m))) for t in r.tasks]
                pts = [(x, y) for x, y in pts if x is not None and y is not None]
                if pts:
                    groups[r.run_id] = pts
            if groups and len(out) < MAX_PLOTS:
                out.append(svg.scatter(groups, f"{m} by {p}", p, m))
    return out


def _task_name(t: Task, runs: list[Run]) -> str:
    shown = ", ".join(f"{p}={t.params.get(p)}" for p in varying([x for r in runs for x in r.tasks]))
    return f"{t.run_id[-6:]}/{t.task}" + (f" ({shown})" if shown else "") if len(runs) > 1 else (
        f"task {t.task}" + (f" ({shown})" if shown else ""))


def series_plots(runs: list[Run]) -> list[str]:
    tasks = [t for r in runs for t in r.tasks]
    x, ys = series_names(tasks)
    out = []
    for y in ys:
        curves = {}
        for t in tasks:
            pts = [(numeric(row.get(x)) if x else float(i), numeric(row.get(y))) for i, row in enumerate(t.series)]
            pts = [(a, b) for a, b in pts if a is not None and b is not None]
            if pts:
                curves[_task_name(t, runs)] = pts
        if curves and len(out) < MAX_PLOTS:
            out.append(svg.lines(curves, f"{y} per {x or 'line'}", x or "line of metrics.jsonl", y))
    return out


def graph_plot(run: Run) -> str | None:
    """A pipeline run's steps as a graph, each coloured by its rows' states (a map step: FAILED if a task
    failed, SUCCEEDED if all did, NOT RUN if none ran, else its tasks' furthest state)."""
    steps = (run.run.get("pipeline") or {}).get("steps") if run.run.get("kind") == RUN_KIND else None
    if not steps:
        return None
    out = []
    for d in steps:
        states = [t.state for t in run.tasks if t.params.get("step") == d["name"]]
        if states and all(x == "SUCCEEDED" for x in states):
            state = "SUCCEEDED"
        elif "FAILED" in states:
            state = "FAILED"
        else:
            state = next((x for x in states if x not in ("SUCCEEDED", "NOT RUN")), states[0] if states else "NOT RUN")
        note = f"{len(states)} task{'s' if len(states) != 1 else ''}" if (d.get("map") or {}) else "one job"
        out.append({"name": d["name"], "depends_on": [x["step"] for x in d.get("depends_on") or []], "state": state,
                    "note": note})
    return svg.graph(out, f"{run.run_id[-6:]}: {run.run.get('name') or 'pipeline'}")


def timeline_plot(run: Run) -> str | None:
    bars = []
    for t in run.tasks:
        queued, start, end = _ts(t.queued_at), _ts(t.started_at), _ts(t.ended_at)
        if start is None or end is None:
            continue
        note = f"peak {fmt(t.peak_memory_mib)} MiB, CPU {fmt(t.cpu_s)} s"
        name = f"{t.params['step']} {t.task}" if run.run.get("kind") == RUN_KIND and "step" in t.params else f"task {t.task}"
        bars.append({"name": name, "queued": min(queued or start, start), "start": start, "end": end,
                     "failed": t.state == "FAILED", "note": note})
    return svg.timeline(bars, f"{run.run_id[-6:]}: queued (grey), ran (green), failed (red)") if bars else None


def resource_plots(runs: list[Run]) -> list[str]:
    out = []
    for key, name in (("peak_memory_mib", "peak memory (MiB)"), ("cpu_s", "CPU time (s)")):
        groups = {r.run_id: [(float(t.task), getattr(t, key)) for t in r.tasks if getattr(t, key) is not None]
                  for r in runs}
        groups = {k: v for k, v in groups.items() if v}
        if groups:
            out.append(svg.scatter(groups, f"{name} by task", "task", name))
    return out


def _same(runs: list[Run]) -> str:
    same = constant_metrics([t for r in runs for t in r.tasks])
    text = ", ".join(f"{k} = {fmt(v)}" for k, v in same.items())
    return f'<p id="same">The same in every task: {escape(text)}.</p>' if same else ""


def failures(runs: list[Run]) -> str:
    items = []
    for t in (t for r in runs for t in r.tasks if t.state == "FAILED"):
        tail = "\n".join(t.stderr_tail[-10:])
        items.append(f"<li><b>{escape(t.run_id)} task {t.task}</b>: exit {escape(fmt(t.exit_code))}; "
                     f"{escape(t.reason or 'no reason given')}" + (f"<pre>{escape(tail)}</pre>" if tail else "") + "</li>")
    return f'<ul id="failures">{"".join(items)}</ul>' if items else '<p id="failures">No task failed.</p>'


def html(runs: list[Run], generated_at: str) -> str:
    ids = ", ".join(r.run_id for r in runs)
    timelines = [p for p in (timeline_plot(r) for r in runs) if p]
    sections = [
        f"<h1>batchdeploy report: {escape(ids)}</h1><p>Generated {escape(generated_at)}.</p>",
        '<h2>What ran</h2><div class="side">' + "".join(what_ran_table(r) for r in runs) + "</div>",
    ]
    graphs = [p for p in (graph_plot(r) for r in runs) if p]
    if graphs:
        sections.append('<h2>Pipeline</h2><div class="plots">' + "".join(graphs) + "</div>")
    sections.append("<h2>Tasks</h2><p>Click a column to sort.</p>" + tasks_table(runs) + _same(runs))
    for title, plots in (("Metrics by parameter", metric_plots(runs)), ("Curves (metrics.jsonl)", series_plots(runs)),
                         ("Timeline", timelines), ("Resources", resource_plots(runs))):
        body = "".join(plots) if plots else "<p>Nothing to plot.</p>"
        sections.append(f'<h2>{title}</h2><div class="plots">{body}</div>')
    sections.append("<h2>Failures</h2>" + failures(runs))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>batchdeploy report {escape(ids)}</title><style>{CSS}</style></head><body>"
            + "".join(sections) + f"<script>{JS}</script></body></html>\n")
