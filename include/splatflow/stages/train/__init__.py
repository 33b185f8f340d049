"""The 3DGS training stage (a SageMaker Training job): SfM output in, a trained splat out."""
