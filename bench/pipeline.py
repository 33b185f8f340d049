"""Where the time of a local pipeline run goes: stage compute versus orchestration overhead.

Runs ``splat_pipeline`` on the bundled sample through the embedded runtime (as ``make demo``
does, with the same settings) and splits the run's wall time into the SageMaker-compatible
jobs' own time (downloads, container, uploads) and everything else: task start-up, validation,
status polling, publishing and the email. Usage: ``python bench/pipeline.py [--check-interval S]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from splatflow.local.demo import run_sample
from splatflow.local.runtime import RuntimeSettings

GOAL_OVERHEAD_FRACTION = 0.15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check-interval", type=int, default=2, help="seconds between job status checks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        state = Path(folder)
        sample = run_sample(
            RuntimeSettings(state_dir=state, check_interval_seconds=args.check_interval),
            state / "out",
            {"SPLATFLOW_CHECK_INTERVAL_SECONDS": str(args.check_interval)},
        )
    if sample.manifest is None or sample.state != "success":
        raise SystemExit(f"the run did not succeed ({sample.state}); nothing to measure")
    stages = sample.manifest["stages"]
    wall = sample.wall_seconds
    compute = sum(stage["seconds"] for stage in stages.values())
    overhead = wall - compute

    def row(part: str, seconds: float, note: str = "") -> str:
        return f"{part:<22}{seconds:>10.1f}  {seconds / wall:>6.1%}  {note}"

    print(f"pipeline on the bundled sample, status checks every {args.check_interval} s")
    print(f"{'part':<22}{'seconds':>10}  {'share':>6}  note")
    for name, stage in stages.items():
        print(row(f"job {name}", stage["seconds"], stage["instance_type"]))
    print(row("jobs in all", compute))
    print(row("orchestration", overhead, f"goal < {GOAL_OVERHEAD_FRACTION:.0%}"))
    print(row("run (wall)", wall))


if __name__ == "__main__":
    main()
