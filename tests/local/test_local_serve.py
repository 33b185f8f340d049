"""``python -m splatflow.local serve --sample``, as docker-compose.yaml starts the runtime: the sample is uploaded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from splatflow.local.aws_clients import aws_client
from splatflow.local.demo import SAMPLE_KEY, sample_zip
from splatflow.local.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_serve_with_sample_puts_the_sample_in_the_uploads_bucket(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("aws", "sagemaker", "smtp")}
    command = [sys.executable, "-m", "splatflow.local", "serve", "--sample", "--state-dir", str(tmp_path)]
    for name, port in ports.items():
        command += [f"--{name}-port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=dict(os.environ), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "the bundled sample is at" not in log.read_text(errors="replace"):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        s3 = aws_client("s3", f"http://127.0.0.1:{ports['aws']}", "us-east-1")
        uploaded = s3.get_object(Bucket="splatflow-uploads", Key=SAMPLE_KEY)["Body"].read()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert uploaded == sample_zip()
