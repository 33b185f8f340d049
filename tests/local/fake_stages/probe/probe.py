"""A probe image's entry point: reports what a container sees of the job the runner started.

It depends on nothing but the standard library, so its image builds in seconds from the same
base as the stage images. Modes (first argument, or ``train`` for a training job):

- report (default): write ``report.json`` into the job's output (the model folder for training)
- wait (or the hyperparameter ``mode=wait``): print a line, wait for a stop signal, say which arrived
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

ML = Path("/opt/ml")
ENVIRONMENT_KEYS = ("TRAINING_JOB_NAME", "TRAINING_JOB_ARN", "GREETING")


def can_write(folder: Path) -> str:
    """``yes``, or the error a write into ``folder`` meets (``EROFS``, ``EACCES``…)."""
    try:
        probe = folder / ".probe"
        probe.write_text("x", encoding="utf-8")
        probe.unlink()
    except OSError as error:
        return errno.errorcode.get(error.errno or 0, str(error))
    return "yes"


def internet() -> str:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError as error:
        return type(error).__name__
    return "reachable"


def folders() -> list[Path]:
    """Every folder the job was given: the mount points under /opt/ml, from the kernel's mount table."""
    mount_points = {line.split()[4] for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()}
    return sorted(Path(point) for point in mount_points if point.startswith(f"{ML}/"))


def report(arguments: list[str]) -> dict[str, object]:
    configs = [ML / "config", ML / "input" / "config"]
    return {
        "uid": os.getuid(),
        "argv": arguments,
        "environment": {key: os.environ[key] for key in ENVIRONMENT_KEYS if key in os.environ},
        "writable": {str(folder): can_write(folder) for folder in folders()},
        "config_files": sorted(str(path) for folder in configs for path in folder.glob("*.json")),
        "resource_config": json.loads(next(ML.glob("**/resourceconfig.json")).read_text(encoding="utf-8")),
        "network_interfaces": sorted(path.name for path in Path("/sys/class/net").iterdir()),
        "internet": internet(),
    }


def wait_for_a_signal() -> None:
    def stop(number: int, _frame: object) -> None:
        print(f"received {signal.Signals(number).name}", flush=True)
        sys.exit(0)

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, stop)
    print("waiting for a signal", flush=True)
    while True:
        time.sleep(0.1)


def main(arguments: list[str]) -> None:
    hyperparameters_file = ML / "input" / "config" / "hyperparameters.json"
    training = hyperparameters_file.exists()
    hyperparameters = json.loads(hyperparameters_file.read_text(encoding="utf-8")) if training else {}
    if "wait" in arguments or hyperparameters.get("mode") == "wait":
        wait_for_a_signal()
    target = ML / "model" if training else ML / "processing" / "output"
    (target / "report.json").write_text(json.dumps(report(arguments), indent=1), encoding="utf-8")
    print(f"report written to {target}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
