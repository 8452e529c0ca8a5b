"""`--create` / `--delete`: the project's S3 bucket, ECR repositories, compute environment, job queue and
job definition, from files in AWS's own request shapes (pegasus-aws-batch style), planned first and then
executed (chalice's deployer style).

    inputs (files + flags -> Wanted)  ->  observe (Describe*)  ->  plan (pure)  ->  execute

`model` holds the words (kinds, names, Wanted, Action); `specs` and `diff` check and compare the compute
environment and queue files; `precheck` reads what a compute environment names (subnets, security
groups, roles) before the first write; `jobdef` does a job definition as -u does; `envfile` edits .aws_env for
--write-env; `journal` records each change; `execute` has the Executor and the DisplayOnlyExecutor
(--dry-run); `verbs` wires `create` and `delete` (cli: batchdeploy.infra.verbs:create / :delete).

Everything this creates carries two tags, `batchdeploy:project` = PROJECT_NAME and `batchdeploy:prefix`
= PREFIX; `delete` and `status` find resources by them, and nothing without both is ever changed or
deleted (README: Ownership). The one exception is the ECR repositories: the project's, shared by its
prefixes as -b shares them, tagged with the project alone, and deleted only by the last prefix's
delete. A resource given by name or ARN is used as it is: never created, updated, tagged or deleted.
"""
