"""The flags of `batchdeploy create` and `delete` (kept out of cli.py, which holds the verb table)."""


def add_flags(add, verb: str) -> None:
    add("--prefix", metavar="PREFIX", help="name prefix (default: PROJECT_NAME-ENV)")
    add("--compute-environment", metavar="FILE|NAME|ARN", help="compute environment file, name or ARN")
    add("--job-queue", metavar="FILE|NAME|ARN", help="job queue file, name or ARN")
    add("--job-definition", metavar="FILE|NAME|ARN", help="job definition file, name or ARN")
    add("--bucket", metavar="NAME", help="S3 bucket name (default: PREFIX-bucket, lowercased)")
    add("--ecr-repository", action="append", metavar="NAME",
        help="ECR repository (repeatable; default: one per IMAGES name when AWS_REGISTRY is an ECR registry)")
    add("--dry-run", action="store_true", help="show the plan, change nothing")
    add("--yes", "-y", action="store_true", help="do not ask for confirmation")
    add("--timeout", type=int, metavar="SECONDS", help="longest wait for each resource to settle (default 600)")
    if verb == "create":
        add("--update", action="store_true", help="update what differs, where AWS allows an update")
        add("--write-env", action="store_true", help="write the names used into .aws_env")
    else:
        add("--delete-bucket-contents", action="store_true", help="also empty and delete a non-empty bucket")
        add("--delete-images", action="store_true", help="also delete ECR repositories that hold images")
