"""A whole AWS Batch on this machine, on 127.0.0.1 only: a moto server (the AWS APIs; Batch jobs run as
real containers), a registry standing in for ECR's image endpoint, and a container engine with a
Docker-compatible API. `python -m batchdeploy.local up|down|status|env|base-image`.

Modules, top-down: `stack` (the commands), `moto`, `registry`, `podman` (the container engine),
`base_image`, and `supervise` (pids, ports, locks, deadlines). Only the standard library and
batchdeploy's shared modules are used, so the stack starts from any python3.

Inside the moto server's own process (started as `python moto_server.py`): `moto_server` (the start
script, which checks the pinned moto and installs the runner), `batch_runner` and `batch_container`
(AWS Batch's job life and one attempt's container, replacing moto's Job.run) and `batch_rules` (AWS
Batch's rules as pure functions). These import moto and docker, never batchdeploy.
"""
