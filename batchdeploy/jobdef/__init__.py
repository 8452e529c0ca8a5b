"""The job definition model, shared by `-u` (batchdeploy.jobs) and `--create` (batchdeploy.infra):
`check` (AWS's rules and limits, pure), `container` (a container's resources and roles), `compare`
(normalize, content hash, changes), `files` (reading and rendering job-definition files), `record`
(registering a revision and recording it in job-definitions.json for `-r`)."""
