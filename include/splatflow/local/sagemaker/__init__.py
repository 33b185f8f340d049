"""A local, SageMaker-compatible job runner: the JSON API, a job store and an executor."""
