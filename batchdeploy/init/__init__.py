"""`batchdeploy init [DIR]` (`./deploy.sh --init`): a new project whose files agree with each other.

`files` is the pure part (the project's name, cleaned, and every file's text from it); `example` holds the
example experiment's code; `verb` writes them (refusing to overwrite without --force) and has the flags.

Every name in the files is derived from PROJECT_NAME (and ENV) in `.aws_env`, by `${...}` placeholders,
so renaming the project is one edit. The roles the compute environment names are the ones `--create`
makes (batchdeploy/infra/roles.py), and the compute environment leaves out its network, which `--create`
takes from the default VPC (batchdeploy/infra/network.py).
"""
