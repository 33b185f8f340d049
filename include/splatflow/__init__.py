"""splatflow: drone photos in S3 to a compressed 3D Gaussian Splat, orchestrated by Airflow."""

__version__ = "0.1.0"
