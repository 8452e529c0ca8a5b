"""Bags of jobs, the pegasus-aws-batch way (issue #17, in progress).

So far: `submitfile`, pegasus's job submit files read as pegasus reads them and checked before
anything is uploaded or submitted. Still to come (the issue stays open): the `submit` verb and the
pegasus-compatible command line, files shipped through the sync code, logs split and merged, the
jobstate log and the cluster summary, tasks sharing a definition and queue sent as one array.
"""
