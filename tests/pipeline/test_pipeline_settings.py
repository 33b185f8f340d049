"""Deployment settings come from SPLATFLOW_* variables, checked once with clear messages."""

from __future__ import annotations

from typing import Any

import pytest

from splatflow.pipeline.settings import PipelineSettings, SettingsError


def test_defaults_need_no_environment() -> None:
    settings = PipelineSettings.from_environment({})
    assert settings == PipelineSettings()
    assert settings.image_uri("sfm").endswith("/splatflow/sfm:latest")


def test_values_are_read_and_typed() -> None:
    settings = PipelineSettings.from_environment(
        {
            "SPLATFLOW_ALLOWED_BUCKETS": "a-bucket, b-bucket ,",
            "SPLATFLOW_TRAIN_INSTANCE_TYPE": "ml.g5.xlarge",
            "SPLATFLOW_TRAIN_MAX_RUNTIME_SECONDS": "900",
            "SPLATFLOW_SPOT_TRAINING": "false",
            "SPLATFLOW_KMS_KEY_ID": "alias/splatflow",
            "SPLATFLOW_TRAIN_HYPERPARAMETERS": '{"max_steps": 50, "device": "cpu", "require": true}',
        }
    )
    assert settings.allowed_buckets == frozenset({"a-bucket", "b-bucket"})
    assert (settings.train.instance_type, settings.train.max_runtime_seconds) == ("ml.g5.xlarge", 900)
    assert settings.spot_training is False
    assert settings.kms_key_id == "alias/splatflow"
    assert settings.train_hyperparameters == {"max_steps": "50", "device": "cpu", "require": "true"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SPLATFLOW_CHECK_INTERVAL_SECONDS", "soon", "is not a whole number"),
        ("SPLATFLOW_SFM_VOLUME_GB", "-5", "must be positive"),
        ("SPLATFLOW_SPOT_TRAINING", "perhaps", "is not true/false"),
        ("SPLATFLOW_PRESIGN_EXPIRY_SECONDS", "9999999", "at most 604800"),
        ("SPLATFLOW_REPROCESS_SCHEDULE", "every night", "neither 'none', one of Airflow's presets"),
        ("SPLATFLOW_REPROCESS_SCHEDULE", "@dayly", "@daily, @hourly"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as error:
        PipelineSettings.from_environment({name: value})
    assert name in str(error.value)


@pytest.mark.parametrize(
    ("name", "value", "message", "read"),
    [
        ("SPLATFLOW_SFM_ARGUMENTS", "[1]", "must be a JSON object", PipelineSettings.sfm_settings),
        ("SPLATFLOW_COMPRESS_ARGUMENTS", "{", "is not valid JSON", PipelineSettings.compress_settings),
        (
            "SPLATFLOW_TRAIN_HYPERPARAMETERS",
            '{"max_steps": 7000',
            "is not valid JSON",
            lambda settings: settings.train_settings("standard"),
        ),
    ],
)
def test_unreadable_stage_settings_fail_when_a_run_asks_for_them_not_when_read(
    name: str, value: str, message: str, read: Any
) -> None:
    settings = PipelineSettings.from_environment({name: value})  # the DAG files read this at parse time

    with pytest.raises(SettingsError, match=message) as error:
        read(settings)
    assert name in str(error.value)
    assert PipelineSettings.from_environment({name: value}).gpu_pool == "sagemaker_gpu_training"


@pytest.mark.parametrize(
    ("value", "schedule"),
    [
        (None, "@daily"),
        ("none", None),
        ("None", None),
        ("0 3 * * *", "0 3 * * *"),
        ("@hourly", "@hourly"),
        ("@quarterly", "@quarterly"),
    ],
)
def test_the_reprocess_schedule_is_daily_unless_set_to_a_cron_or_to_none(
    value: str | None, schedule: str | None
) -> None:
    environment = {} if value is None else {"SPLATFLOW_REPROCESS_SCHEDULE": value}
    assert PipelineSettings.from_environment(environment).reprocess_schedule == schedule
