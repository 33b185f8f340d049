"""Container entry points (``python -m splatflow.stages.sfm|train|compress``) and their contract."""
