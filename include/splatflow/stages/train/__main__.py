"""``python -m splatflow.stages.train``: the 3dgs container's entry point."""

from splatflow.stages.contract import run_stage
from splatflow.stages.train.stage import main

run_stage("train", main)
