"""The flags as typed options: the verbs read these, never ctx.args."""

from __future__ import annotations

from batchdeploy import cli
from batchdeploy.infra.verbs import CreateOptions, DeleteOptions


def test_create_options_from_the_command_line():
    args = cli.parse(["create", "--prefix", "p", "--job-queue", "shared", "--ecr-repository", "a",
                      "--ecr-repository", "b", "--update", "--write-env", "--dry-run", "--timeout", "30"])
    opts = CreateOptions.from_args(args)
    assert (opts.prefix, opts.timeout, opts.dry_run, opts.yes) == ("p", 30, True, False)
    assert opts.update and opts.write_env and opts.ecr_repository == ["a", "b"]
    assert opts.refs == {"compute-environment": None, "job-queue": "shared", "job-definition": None}


def test_delete_options_from_the_command_line():
    args = cli.parse(["delete", "--yes", "--bucket", "b", "--delete-images"])
    opts = DeleteOptions.from_args(args)
    assert opts.yes and opts.bucket == "b" and opts.delete_images and not opts.delete_bucket_contents
    assert opts.prefix is None and opts.ecr_repository == []
