"""Entry point of the compressor container: ``python -m splatflow.stages.compress``."""

from splatflow.stages.compress.stage import STAGE_NAME, main
from splatflow.stages.contract import run_stage

if __name__ == "__main__":
    run_stage(STAGE_NAME, main)
