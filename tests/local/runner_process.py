"""Run only the job runner in its own process (argv: state dir, aws endpoint, url file).

The restart test kills this process with SIGKILL mid-job and starts it again, the way a crash or
a redeploy would end a real runner.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import replace
from pathlib import Path

from runner_support import runner_settings

from splatflow.local.sagemaker.runner import JobRunner


def main() -> None:
    state_dir, aws_endpoint, url_file = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    runner = JobRunner(replace(runner_settings(state_dir), aws_endpoint=aws_endpoint))
    runner.start()
    url_file.write_text(runner.url)
    threading.Event().wait()


if __name__ == "__main__":
    main()
