"""``python -m splatflow.local serve``: the embedded runtime in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from splatflow.local.config import RunnerSettings
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings

log = logging.getLogger("splatflow.local")


def _parser() -> argparse.ArgumentParser:
    defaults = RuntimeSettings()
    parser = argparse.ArgumentParser(prog="python -m splatflow.local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run local S3/CloudWatch Logs, the SageMaker job runner and an SMTP sink")
    serve.add_argument("--state-dir", type=Path, default=defaults.state_dir, help="where jobs, mail and env live")
    serve.add_argument("--host", default=defaults.host, help="address to bind (default: loopback only)")
    serve.add_argument("--aws-port", type=int, default=defaults.aws_port, help="moto: S3 and CloudWatch Logs")
    serve.add_argument("--sagemaker-port", type=int, default=defaults.sagemaker_port)
    serve.add_argument("--smtp-port", type=int, default=defaults.smtp_port)
    serve.add_argument("--region", default=defaults.region)
    serve.add_argument(
        "--backend",
        choices=["auto", "subprocess", "docker"],
        default="auto",
        help="run job images with docker, or their entry points as processes (auto: docker if an engine answers)",
    )
    serve.add_argument("--max-parallel-jobs", type=int, default=RunnerSettings(Path()).max_parallel_jobs)
    return parser


def serve(args: argparse.Namespace) -> None:
    runner = RunnerSettings(
        state_dir=args.state_dir / "sagemaker", backend=args.backend, max_parallel_jobs=args.max_parallel_jobs
    )
    settings = RuntimeSettings(
        state_dir=args.state_dir,
        host=args.host,
        aws_port=args.aws_port,
        sagemaker_port=args.sagemaker_port,
        smtp_port=args.smtp_port,
        region=args.region,
        runner=runner,
    )
    runtime = EmbeddedRuntime(settings)
    runtime.start()
    assert runtime.runner is not None
    log.info(
        "ready: S3/Logs %s  SageMaker %s  SMTP %s:%d",
        runtime.aws_url,
        runtime.runner.url,
        runtime.smtp.host,
        runtime.smtp.port,
    )
    log.info("use it from Airflow with: source %s", settings.env_file)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stopping.wait()
    log.info("stopping")
    runtime.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    if args.command == "serve":
        serve(args)


if __name__ == "__main__":
    main()
