"""`batchdeploy report RUN_ID [RUN_ID ...]`: what ran and what came back, as one self-contained HTML file
(inline CSS, inline SVG plots drawn here in Python, a few lines of inline JS to sort tables; nothing
fetched when it opens) and a terminal table.

    read.py    the only module that reads S3 and Batch: runs, task records, each task's metrics
    model.py   pure: the runs as rows (varying parameters, metrics, times, resources) and the table
    svg.py     pure: scatter, line and timeline plots with real axes, ticks, labels and titles
    page.py    pure: the HTML page from the model
    verb.py    flags and the verb

The metrics convention: a task writes `metrics.json` (one JSON object; its numbers are the metrics) into
its output location (the `output_path` parameter a sweep gives each task, else BATCHDEPLOY_OUTPUT), and
optionally `metrics.jsonl` (one JSON object per line, e.g. {"epoch": 3, "loss": 0.12}) for curves.
"""
