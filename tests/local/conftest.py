"""Fixtures for the embedded runtime tests (helpers live in ``runner_support``)."""

from runner_support import logs, runtime, s3, sagemaker

__all__ = ["logs", "runtime", "s3", "sagemaker"]
