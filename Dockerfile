# syntax=docker/dockerfile:1
# The Airflow image: the official apache/airflow image plus what the DAGs need (requirements.txt)
# and the splatflow package with its `local` extra, so the same image also runs the embedded
# runtime (`python -m splatflow.local serve`) in docker-compose.yaml.
#
# The project sits at AIRFLOW_HOME the way an Astronomer project does (dags/, plugins/, include/),
# installed editable, so docker-compose can mount the working tree over these copies and edits
# show without a rebuild.
#
# Build from the repository root:  docker build -t splatflow-airflow .
# To let the embedded runtime run the stages as subprocesses too, add their extras:
#   docker build --build-arg SPLATFLOW_EXTRAS=local,sfm,train,compress -t splatflow-local .

FROM apache/airflow:3.3.2-python3.11
ARG SPLATFLOW_EXTRAS=local
# The dependencies go in before the code: the editable install needs only the package's
# metadata and its __init__.py (the version), and the package folder it points at is filled in
# below, so an edit to the code rebuilds the COPY layers, not the pip layer (torch's, with the
# stages' extras).
COPY --chown=airflow:0 pyproject.toml README.md requirements.txt constraints.txt /opt/airflow/
COPY --chown=airflow:0 include/splatflow/__init__.py /opt/airflow/include/splatflow/__init__.py
# Naming apache-airflow keeps pip from moving Airflow itself; constraints.txt pins the rest to
# the set the test suite runs against.
RUN pip install --no-cache-dir -c /opt/airflow/constraints.txt "apache-airflow==3.3.2" \
    -r /opt/airflow/requirements.txt -e "/opt/airflow[${SPLATFLOW_EXTRAS}]"
COPY --chown=airflow:0 include /opt/airflow/include
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
USER airflow
