"""The compression stage: a trained 3DGS ``.ply`` to a PlayCanvas SOG v2 bundle, checked.

Entry point ``python -m splatflow.stages.compress`` (a SageMaker Processing job).
"""
