"""Entry point of the compressor container: ``python -m splatflow.stages.compress``."""

from splatflow.stages.harness import run_stage_module

if __name__ == "__main__":
    run_stage_module("compress", "splatflow.stages.compress.stage")
