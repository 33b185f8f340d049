"""The embedded runtime: local S3 and CloudWatch Logs, a SageMaker job runner and an SMTP sink."""
