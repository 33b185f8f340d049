"""Entry point of the SfM container: ``python -m splatflow.stages.sfm``."""

from splatflow.stages.harness import run_stage_module

if __name__ == "__main__":
    run_stage_module("sfm", "splatflow.stages.sfm.stage")
