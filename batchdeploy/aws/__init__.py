"""Everything batchdeploy knows about AWS, once: the clients (`session`), the error edge (`errors`),
request shapes (`shapes`), and each service's facts and calls (`batch`, `s3`, `ecr`, `logs`, `tags`).

Capabilities (images, jobs, sync, infra, local) build on this package and never on each other.
boto3 and botocore are imported lazily, so `--help` and configuration errors never pay for them.
"""

from batchdeploy.aws.errors import convert, error_code, is_retryable, translate
from batchdeploy.aws.session import Aws, AwsSettings

__all__ = ["Aws", "AwsSettings", "convert", "error_code", "is_retryable", "translate"]
