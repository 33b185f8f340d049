"""The embedded runtime's commands: ``serve`` (runtime only), ``up`` (with Airflow), ``demo``."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from splatflow.local.airflow_env import REPO_ROOT
from splatflow.local.config import RunnerSettings
from splatflow.local.containers.compose_images import build_compose_images
from splatflow.local.containers.engine import container_engine
from splatflow.local.containers.images import (
    STAGE_REPOSITORIES,
    Builder,
    BuiltImage,
    build_stage_images,
    stage_images,
)
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
        choices=["subprocess", "docker"],
        default="subprocess",
        help="subprocess: run each stage's entry point with this Python (fast); docker: build the stage images "
        "and run every job in its image as SageMaker does (Docker, or Podman serving Docker's API)",
    )
    parser.add_argument(
        "--max-parallel-jobs",
        type=int,
        default=RunnerSettings(Path()).max_parallel_jobs,
        help="jobs beyond this wait their turn (default: half the CPU cores)",
    )


def _runtime_settings(args: argparse.Namespace, docker_host: str | None = None) -> RuntimeSettings:
    # Absolute, so the paths written into the env file and handed to jobs hold from anywhere.
    state_dir = args.state_dir.resolve()
    runner = RunnerSettings(
        state_dir=state_dir / "sagemaker",
        backend=args.backend,
        docker_host=docker_host,
        max_parallel_jobs=args.max_parallel_jobs,
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


@contextmanager
def _job_engine(args: argparse.Namespace) -> Iterator[str | None]:
    """With ``--backend docker``: a container engine for as long as the runtime runs, the images built.

    Yields the ``DOCKER_HOST`` the runner's ``docker`` commands need (None: the client's default).
    The images are rebuilt every time (a warm build redoes only the changed layers), so jobs
    never run yesterday's code.
    """
    if args.backend != "docker":
        yield None
        return
    with container_engine(args.state_dir.resolve()) as engine:
        _print_builds(build_stage_images(engine, REPO_ROOT, stage_images(REPO_ROOT)))
        yield engine.docker_host


def _print_builds(built: list[BuiltImage]) -> None:
    print(f"{'image':<72} {'seconds':>8} {'MB':>7}  bases")  # noqa: T201 - a table for the person who asked
    for item in built:
        bases = ", ".join(f"{name} ({how})" for name, how in item.bases.items())
        print(f"{item.image.reference:<72} {item.seconds:>8.1f} {item.size_bytes / 1e6:>7.0f}  {bases}")  # noqa: T201


def _until_signalled(runtime: EmbeddedRuntime, body: Callable[[], None]) -> None:
    runtime.start()
    try:
        body()
    finally:
        log.info("stopping the embedded runtime")
        runtime.stop()


def serve(args: argparse.Namespace) -> None:
    """The runtime alone, until Ctrl-C; point any Airflow at it with ``source <state>/env``."""
    with _job_engine(args) as docker_host:
        _serve(EmbeddedRuntime(_runtime_settings(args, docker_host)), with_sample=args.sample)


def _serve(runtime: EmbeddedRuntime, with_sample: bool = False) -> None:
    def wait() -> None:
        assert runtime.runner is not None
        if with_sample:
            from splatflow.local.demo import upload_sample

            log.info("the bundled sample is at %s", upload_sample(runtime))
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
    """The runtime plus Airflow's components (UI and REST API on localhost:8080), the sample ready to run."""
    from splatflow.local.stack import AirflowEndedError, run_stack

    with _job_engine(args) as docker_host:
        try:
            run_stack(EmbeddedRuntime(_runtime_settings(args, docker_host)), args.state_dir, args.api_port)
        except AirflowEndedError as exc:
            raise SystemExit(f"up: {exc}") from None


def demo(args: argparse.Namespace) -> None:
    """The real DAG on the bundled sample (or ``--photos``), start to finish, then a summary of what it made."""
    from splatflow.local.demo import Upload, run_demo

    try:
        upload = Upload.of(args.photos)
    except ValueError as exc:
        raise SystemExit(f"--photos: {exc}") from None
    with _job_engine(args) as docker_host:
        status = run_demo(_runtime_settings(args, docker_host), upload)
    raise SystemExit(status)


def images(args: argparse.Namespace) -> None:
    """Build the three stage images, or with --compose the ones docker-compose.yaml runs (base images pulled,
    or stood in from Debian's packages)."""
    wanted = tuple(args.only) if args.only else STAGE_REPOSITORIES
    with container_engine(args.state_dir.resolve()) as engine:
        if args.compose:
            _print_builds(build_compose_images(Builder.for_engine(engine), REPO_ROOT))
        else:
            _print_builds(build_stage_images(engine, REPO_ROOT, stage_images(REPO_ROOT, repositories=wanted)))


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per HTTP request (moto) or SMTP command (aiosmtpd) would bury the jobs' progress.
    for chatty in ("werkzeug", "mail.log"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m splatflow.local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, summary in (
        ("serve", serve, "local S3/CloudWatch Logs, the SageMaker job runner and an SMTP sink"),
        ("up", up, "the same plus Airflow (SQLite, loopback only) with the splatflow DAGs"),
        ("demo", demo, "run splat_pipeline on the bundled sample photos and show the result"),
    ):
        sub = commands.add_parser(name, help=summary, description=summary)
        _add_runtime_options(sub)
        sub.set_defaults(handler=handler)
        if name == "serve":
            sub.add_argument(
                "--sample", action="store_true", help="put the bundled sample in the uploads bucket, as up does"
            )
        if name == "up":
            sub.add_argument("--api-port", type=int, default=8080, help="Airflow's UI and REST API")
        if name == "demo":
            sub.add_argument("--photos", type=Path, help="your photos instead of the sample: a ZIP, or a folder")
    build = commands.add_parser("images", help=images.__doc__, description=images.__doc__)
    build.add_argument("--state-dir", type=Path, default=RuntimeSettings().state_dir, help="where Podman's socket goes")
    which = build.add_mutually_exclusive_group()
    which.add_argument("--only", nargs="+", choices=STAGE_REPOSITORIES, help="build only these images")
    which.add_argument(
        "--compose",
        action="store_true",
        help="instead, the images docker-compose.yaml runs, so that `docker compose up` builds and pulls nothing",
    )
    build.set_defaults(handler=images)
    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
