"""The embedded runtime's commands: ``serve`` (runtime only), ``up`` (with Airflow), ``demo``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from splatflow.local.airflow_env import airflow_environment, prepare_airflow
from splatflow.local.config import RunnerSettings
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings

log = logging.getLogger("splatflow.local")


def _add_runtime_options(parser: argparse.ArgumentParser) -> None:
    defaults = RuntimeSettings()
    parser.add_argument("--state-dir", type=Path, default=defaults.state_dir, help="jobs, mail, env and Airflow home")
    parser.add_argument("--host", default=defaults.host, help="address to bind (default: loopback only)")
    parser.add_argument("--aws-port", type=int, default=defaults.aws_port, help="moto: S3 and CloudWatch Logs")
    parser.add_argument("--sagemaker-port", type=int, default=defaults.sagemaker_port, help="the job runner")
    parser.add_argument("--smtp-port", type=int, default=defaults.smtp_port, help="the SMTP sink")
    parser.add_argument("--region", default=defaults.region)
    parser.add_argument(
        "--backend",
        choices=["auto", "subprocess", "docker"],
        default="auto",
        help="run job images with docker, or their entry points as processes (auto: docker if an engine answers)",
    )
    parser.add_argument(
        "--max-parallel-jobs",
        type=int,
        default=RunnerSettings(Path()).max_parallel_jobs,
        help="jobs beyond this wait their turn (default: half the CPU cores)",
    )


def _runtime_settings(args: argparse.Namespace) -> RuntimeSettings:
    # Absolute, so the paths written into the env file and handed to jobs hold from anywhere.
    state_dir = args.state_dir.resolve()
    runner = RunnerSettings(
        state_dir=state_dir / "sagemaker", backend=args.backend, max_parallel_jobs=args.max_parallel_jobs
    )
    return RuntimeSettings(
        state_dir=state_dir,
        host=args.host,
        aws_port=args.aws_port,
        sagemaker_port=args.sagemaker_port,
        smtp_port=args.smtp_port,
        region=args.region,
        runner=runner,
    )


def _runtime(args: argparse.Namespace) -> EmbeddedRuntime:
    return EmbeddedRuntime(_runtime_settings(args))


def _until_signalled(runtime: EmbeddedRuntime, body: Callable[[], None]) -> None:
    runtime.start()
    try:
        body()
    finally:
        log.info("stopping the embedded runtime")
        runtime.stop()


def serve(args: argparse.Namespace) -> None:
    """The runtime alone, until Ctrl-C; point any Airflow at it with ``source <state>/env``."""
    runtime = _runtime(args)

    def wait() -> None:
        assert runtime.runner is not None
        log.info(
            "ready: S3/Logs %s  SageMaker %s  SMTP %s:%d  mail saved in %s",
            runtime.aws_url,
            runtime.runner.url,
            runtime.smtp.host,
            runtime.smtp.port,
            runtime.settings.mail_dir,
        )
        log.info("use it from Airflow with: source %s", runtime.settings.env_file)
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.set())
        stopping.wait()

    _until_signalled(runtime, wait)


def up(args: argparse.Namespace) -> None:
    """The runtime plus ``airflow standalone`` (UI and REST API on localhost:8080)."""
    runtime = _runtime(args)

    def run_airflow() -> None:
        environment = {**os.environ, **runtime.environment(), **airflow_environment(args.state_dir)}
        prepare_airflow(environment)
        airflow = str(Path(sys.executable).with_name("airflow"))
        log.info("starting Airflow: UI and REST API on http://localhost:8080 (the admin password is printed below)")
        with subprocess.Popen([airflow, "standalone"], env=environment) as process:
            try:
                process.wait()
            except KeyboardInterrupt:
                process.send_signal(signal.SIGINT)
                process.wait()

    _until_signalled(runtime, run_airflow)


def demo(args: argparse.Namespace) -> None:
    """The real DAG on the bundled sample, start to finish, then a summary of what it made."""
    from splatflow.local.demo import run_demo

    raise SystemExit(run_demo(_runtime_settings(args)))


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per HTTP request (moto) or SMTP command (aiosmtpd) would bury the jobs' progress.
    for chatty in ("werkzeug", "mail.log"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m splatflow.local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, summary in (
        ("serve", serve, "local S3/CloudWatch Logs, the SageMaker job runner and an SMTP sink"),
        ("up", up, "the same plus Airflow (standalone, SQLite) with the splatflow DAGs"),
        ("demo", demo, "run splat_pipeline on the bundled sample photos and show the result"),
    ):
        sub = commands.add_parser(name, help=summary, description=summary)
        _add_runtime_options(sub)
        sub.set_defaults(handler=handler)
    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
