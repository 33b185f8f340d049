"""The ground floor: what the pipeline (Airflow side) and the stages (containers) agree on.

Both sides import this package and it imports neither (nor anything beyond the standard
library), so the light DAG code can build a job request from the same typed settings a stage
parses, name the same output files, and read the same failure codes a stage writes:

- ``hyperparameters``: typed settings to and from SageMaker's string-to-string form;
- ``sfm_settings``, ``train_settings``, ``compress_settings``: each stage's settings;
- ``paths``: SageMaker's ``/opt/ml`` container paths and the training job's input channel;
- ``outputs``: the file names one stage leaves for the next and for publishing;
- ``failures``: the failure codes and the one-line ``FailureReason`` format.
"""
