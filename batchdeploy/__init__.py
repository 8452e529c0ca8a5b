"""batchdeploy: run experiments on AWS Batch."""

__version__ = "0.1.0"
