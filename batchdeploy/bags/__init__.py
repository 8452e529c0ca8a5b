"""Bags of jobs, the pegasus-aws-batch way (issue #17).

The pure layer (no AWS calls): `submitfile`, pegasus's job submit files read as pegasus reads them and
checked before anything is uploaded or submitted; `pegasus_cli`, its command line; `properties`, its
properties files and the flag > property > error rule; `names`, its resource names, file/ARN/name
resolution, S3 location and the plan of what a run creates, uses and deletes; `logs`, its
`.out`/`.err` split, merge, cluster summary, jobstate log and exit code.

On AWS: `files` (the -f and TRANSFER_INPUT_FILES uploads, content-addressed through the sync code),
`resources` (the plan's steps, on infra's waits), `execute` (submit, watch, fetch logs, write the
files). The doors: `pegasus` (the `pegasus-aws-batch` console script, `python -m batchdeploy.bags`,
pegasus's exit codes 0/1/2) and `verb` (`batchdeploy submit`, batchdeploy's configuration and codes).
Not yet: tasks sharing a definition and queue as one array through the launcher's manifest; each
task is its own SubmitJob, paced at 40/s.
"""
