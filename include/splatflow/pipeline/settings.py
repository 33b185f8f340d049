"""Deployment settings for the pipeline, in one typed place, read from ``SPLATFLOW_*`` variables.

Environment variables work the same in docker-compose, a managed Airflow and the embedded
default, need no metadata-database access (so reading them at DAG-parse time is harmless), and
keep secrets out of DAG code. Every setting has a default that suits the embedded runtime, and
``docs``/README list them. Values are checked here, once, with a message naming the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from croniter import croniter

from splatflow.contract.compress_settings import Settings as CompressSettings
from splatflow.contract.hyperparameters import HyperparameterError, from_hyperparameters
from splatflow.contract.sfm_settings import Settings as SfmSettings
from splatflow.contract.train_settings import Preset
from splatflow.contract.train_settings import Settings as TrainSettings

ENV_PREFIX = "SPLATFLOW_"

LOCAL_REGISTRY = "000000000000.dkr.ecr.us-east-1.amazonaws.com/splatflow"
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/splatflow-sagemaker-jobs"


def schedule_presets() -> frozenset[str]:
    """The schedule strings Airflow reads as presets: its cron presets and its two timetables by name.

    Imported when asked for: importing Airflow configures it from the environment of that moment,
    which must not happen as a side effect of importing these settings.
    """
    from airflow.utils.dates import cron_presets

    return frozenset({*cron_presets, "@once", "@continuous"})


class SettingsError(ValueError):
    """A ``SPLATFLOW_*`` variable has a value the pipeline cannot use."""


@dataclass(frozen=True)
class StageResources:
    """Where and how long one stage's SageMaker job may run."""

    instance_type: str
    volume_size_gb: int
    max_runtime_seconds: int
    instance_count: int = 1


@dataclass(frozen=True)
class PipelineSettings:
    work_bucket: str = "splatflow-work"
    """Bucket that holds every run's outputs under ``runs/<run id>/``."""
    allowed_buckets: frozenset[str] = frozenset({"splatflow-uploads"})
    """Buckets submissions may come from; anything else is refused before any job starts."""
    role_arn: str = LOCAL_ROLE_ARN
    """IAM role the SageMaker jobs run as (docs/iam has the least-privilege policy)."""
    image_registry: str = LOCAL_REGISTRY
    """ECR prefix: images are ``<registry>/sfm``, ``/3dgs`` and ``/compressor``."""
    image_tag: str = "latest"
    sfm: StageResources = StageResources("ml.c6i.2xlarge", 50, 2 * 3600)
    train: StageResources = StageResources("ml.g4dn.xlarge", 50, 3 * 3600)
    compress: StageResources = StageResources("ml.c6i.4xlarge", 30, 3600)
    spot_training: bool = True
    """Managed spot training (with checkpoints, a reclaimed instance resumes instead of restarting)."""
    spot_max_wait_seconds: int = 6 * 3600
    network_isolation: bool = True
    """The stages need no network: S3 transfers are SageMaker's, outside the container."""
    kms_key_id: str | None = None
    """KMS key for job volumes and outputs; None uses S3-managed encryption (SSE-S3)."""
    presign_expiry_seconds: int = 7 * 24 * 3600
    links_aws_conn_id: str = "aws_default"
    """The Airflow connection the email's links are signed with: a SigV4 signature covers the host, so
    where the tasks reach S3 at a name the reader's browser cannot resolve (Compose's service name),
    this connection names the S3 endpoint as the reader sees it."""
    input_wait_seconds: int = 3600
    """How long ``wait_for_input`` waits for an upload that is still arriving before it fails."""
    input_poke_seconds: int = 30
    retry_delay_seconds: int = 30
    """First retry delay of every task; it doubles with each retry (up to 10 minutes)."""
    check_interval_seconds: int = 30
    """How often a waiting task asks SageMaker for the job status."""
    gpu_pool: str = "sagemaker_gpu_training"
    """Airflow pool bounding concurrent training jobs to the account's GPU quota."""
    gpu_pool_slots: int = 2
    sfm_arguments: Mapping[str, str] = field(default_factory=dict)
    """Extra SfM settings (``--name value``), e.g. ``{"image_max_size": "1200"}``."""
    train_hyperparameters: Mapping[str, str] = field(default_factory=dict)
    """Extra training hyperparameters on top of the submission's preset."""
    compress_arguments: Mapping[str, str] = field(default_factory=dict)
    unreadable_stage_settings: Mapping[str, str] = field(default_factory=dict)
    """Stage-settings variables whose text is not a JSON object, with why: the runs that start the
    stage fail at their input check, with an email naming the variable, while the DAGs still load."""
    reprocess_schedule: str | None = "@daily"
    """When ``splat_reprocess`` starts on its own: a cron expression or preset, or None (``none``):
    only when triggered. The local stack sets none."""

    def image_uri(self, repository: str) -> str:
        return f"{self.image_registry.rstrip('/')}/{repository}:{self.image_tag}"

    # The stage settings are checked when a run asks for them (its ``validate`` task), not when
    # the DAG is parsed: a typo then fails the runs that need the stage, each with an email
    # naming the variable, before any job starts.

    def sfm_settings(self) -> SfmSettings:
        """The SfM stage's settings: its defaults with ``SPLATFLOW_SFM_ARGUMENTS`` applied."""
        return self._stage_settings(SfmSettings, "SFM_ARGUMENTS", self.sfm_arguments)

    def train_settings(self, preset: Preset) -> TrainSettings:
        """The training settings for a submission's preset, with ``SPLATFLOW_TRAIN_HYPERPARAMETERS``
        applied (a ``preset`` there wins over the submission's)."""
        values = {"preset": preset, **self.train_hyperparameters}
        return self._stage_settings(TrainSettings, "TRAIN_HYPERPARAMETERS", values)

    def compress_settings(self) -> CompressSettings:
        """The compression stage's settings: its defaults with ``SPLATFLOW_COMPRESS_ARGUMENTS`` applied."""
        return self._stage_settings(CompressSettings, "COMPRESS_ARGUMENTS", self.compress_arguments)

    def _stage_settings(self, settings_type: type[_Settings], variable: str, values: Mapping[str, str]) -> _Settings:
        if variable in self.unreadable_stage_settings:
            raise SettingsError(f"{ENV_PREFIX}{variable} {self.unreadable_stage_settings[variable]}")
        try:
            return from_hyperparameters(settings_type, values)
        except HyperparameterError as exc:
            raise SettingsError(f"{ENV_PREFIX}{variable}: {exc}") from None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PipelineSettings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        defaults = cls()
        return cls(
            work_bucket=reader.text("WORK_BUCKET", defaults.work_bucket),
            allowed_buckets=reader.names("ALLOWED_BUCKETS", defaults.allowed_buckets),
            role_arn=reader.text("ROLE_ARN", defaults.role_arn),
            image_registry=reader.text("IMAGE_REGISTRY", defaults.image_registry),
            image_tag=reader.text("IMAGE_TAG", defaults.image_tag),
            sfm=reader.resources("SFM", defaults.sfm),
            train=reader.resources("TRAIN", defaults.train),
            compress=reader.resources("COMPRESS", defaults.compress),
            spot_training=reader.flag("SPOT_TRAINING", defaults.spot_training),
            spot_max_wait_seconds=reader.number("SPOT_MAX_WAIT_SECONDS", defaults.spot_max_wait_seconds),
            network_isolation=reader.flag("NETWORK_ISOLATION", defaults.network_isolation),
            kms_key_id=reader.text("KMS_KEY_ID", "") or None,
            presign_expiry_seconds=reader.number("PRESIGN_EXPIRY_SECONDS", defaults.presign_expiry_seconds),
            links_aws_conn_id=reader.text("LINKS_AWS_CONN_ID", defaults.links_aws_conn_id),
            input_wait_seconds=reader.number("INPUT_WAIT_SECONDS", defaults.input_wait_seconds),
            input_poke_seconds=reader.number("INPUT_POKE_SECONDS", defaults.input_poke_seconds),
            retry_delay_seconds=reader.number("RETRY_DELAY_SECONDS", defaults.retry_delay_seconds),
            check_interval_seconds=reader.number("CHECK_INTERVAL_SECONDS", defaults.check_interval_seconds),
            gpu_pool=reader.text("GPU_POOL", defaults.gpu_pool),
            gpu_pool_slots=reader.number("GPU_POOL_SLOTS", defaults.gpu_pool_slots),
            sfm_arguments=reader.mapping("SFM_ARGUMENTS"),
            train_hyperparameters=reader.mapping("TRAIN_HYPERPARAMETERS"),
            compress_arguments=reader.mapping("COMPRESS_ARGUMENTS"),
            unreadable_stage_settings=reader.unreadable_mappings(STAGE_SETTINGS_VARIABLES),
            reprocess_schedule=reader.schedule("REPROCESS_SCHEDULE", defaults.reprocess_schedule),
        )


_Settings = TypeVar("_Settings")

STAGE_SETTINGS_VARIABLES = ("SFM_ARGUMENTS", "TRAIN_HYPERPARAMETERS", "COMPRESS_ARGUMENTS")


MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""SigV4 presigned URLs cannot live longer than seven days."""


@dataclass(frozen=True)
class _Reader:
    env: Mapping[str, str]

    def _raw(self, name: str) -> str | None:
        value = self.env.get(ENV_PREFIX + name)
        return None if value is None or value.strip() == "" else value.strip()

    def text(self, name: str, default: str) -> str:
        return self._raw(name) or default

    def number(self, name: str, default: int) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{ENV_PREFIX}{name}={raw!r} is not a whole number") from None
        if value <= 0:
            raise SettingsError(f"{ENV_PREFIX}{name} must be positive, got {value}")
        if name == "PRESIGN_EXPIRY_SECONDS" and value > MAX_PRESIGN_SECONDS:
            raise SettingsError(f"{ENV_PREFIX}{name} may be at most {MAX_PRESIGN_SECONDS} (7 days)")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{ENV_PREFIX}{name}={raw!r} is not true/false")

    def names(self, name: str, default: frozenset[str]) -> frozenset[str]:
        raw = self._raw(name)
        if raw is None:
            return default
        return frozenset(part.strip() for part in raw.split(",") if part.strip())

    def _json_object(self, name: str) -> dict[str, object] | str:
        """The variable's JSON object, or why its text is not one."""
        raw = self._raw(name)
        if raw is None:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            return f"is not valid JSON: {exc}"
        return value if isinstance(value, dict) else "must be a JSON object of settings"

    def mapping(self, name: str) -> dict[str, str]:
        """The variable's settings as strings (none when its text is not a JSON object: see below)."""
        value = self._json_object(name)
        if isinstance(value, str):
            return {}
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}

    def unreadable_mappings(self, names: tuple[str, ...]) -> dict[str, str]:
        """Why each of ``names`` whose text is not a JSON object cannot be read."""
        return {name: problem for name in names if isinstance(problem := self._json_object(name), str)}

    def schedule(self, name: str, default: str | None) -> str | None:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() == "none":
            return None
        presets = schedule_presets()
        if raw not in presets and not croniter.is_valid(raw):
            raise SettingsError(
                f"{ENV_PREFIX}{name}={raw!r} is neither 'none', one of Airflow's presets "
                f"({', '.join(sorted(presets))}), nor a cron expression"
            )
        return raw

    def resources(self, stage: str, default: StageResources) -> StageResources:
        return StageResources(
            instance_type=self.text(f"{stage}_INSTANCE_TYPE", default.instance_type),
            volume_size_gb=self.number(f"{stage}_VOLUME_GB", default.volume_size_gb),
            max_runtime_seconds=self.number(f"{stage}_MAX_RUNTIME_SECONDS", default.max_runtime_seconds),
            instance_count=default.instance_count,
        )
