"""Sweeps: many tasks of one experiment as one array job through the launcher's manifest (issue #16).

A sweep comes from a dsub-style tasks file (`tasksfile`) or a grid of parameter values (`grid`);
both make the same `model.Sweep`, checked against the job definition before anything is submitted.
Built on the shared layer and on `batchdeploy.jobs` (a sweep is a run: the same checks, credentials,
run record and submit); `jobs` never imports `sweeps`.
"""
