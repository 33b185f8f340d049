"""Entry point of the SfM container: ``python -m splatflow.stages.sfm``."""

from splatflow.stages.contract import run_stage
from splatflow.stages.sfm.stage import STAGE_NAME, main

if __name__ == "__main__":
    run_stage(STAGE_NAME, main)
