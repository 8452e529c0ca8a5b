"""Bags of jobs, the pegasus-aws-batch way (issue #17, in progress).

So far, the pure layer (no AWS calls): `submitfile`, pegasus's job submit files read as pegasus reads
them and checked before anything is uploaded or submitted; `pegasus_cli`, its command line;
`properties`, its properties files and the flag > property > error rule; `names`, its resource names,
file/ARN/name resolution, S3 location and the plan of what a run creates, uses and deletes; `logs`, its
`.out`/`.err` split, merge, cluster summary, jobstate log and exit code. Still to come (the issue stays
open): the executor on batchdeploy.sweeps (submit, watch, fetch logs, run the plan), the `submit` verb
and the `pegasus-aws-batch` entry point, files shipped through the sync code.
"""
