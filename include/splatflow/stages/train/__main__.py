"""``python -m splatflow.stages.train``: the 3dgs container's entry point."""

from splatflow.stages.harness import run_stage_module

if __name__ == "__main__":
    run_stage_module("train", "splatflow.stages.train.stage")
