"""Jobs: job definitions (`-u`) and the jobs that run them (`-r`, `--status`, `--logs`, `--cancel`).

Pure data first: `definition` (check a definition, build its request), `compare` (normalize, hash,
changes), `request` (a SubmitJob request), `job` (a view over one DescribeJobs record). Then the
calls: `files` (load and render the files), `register` (the update-jobs verb), `prune`, `submit`
(exactly once), `watch` (job states and log streams), `credentials_filter` (STS and the jq filter),
`commands` (status, logs, cancel, wait), `run` (the run verb). Built on the shared layer only
(`batchdeploy.aws`, config, errors, secrets, state, polling, ui); nothing is imported here, so a
verb loads only the modules it uses.
"""
