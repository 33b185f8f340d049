"""Stand-ins for the images docker-compose.yaml starts from, built on the Python stand-in where no registry answers.

The stage images' Python base is stood in from Debian by ``debootstrap`` (``base_images.py``).
The compose stack needs two more: ``apache/airflow`` (the project's Dockerfile builds on it)
and ``postgres`` (the metadata database). Each is built here with an ordinary image build
``FROM`` that Python base, from Debian's packages and PyPI, and tagged with the upstream name,
so ``docker-compose.yaml`` and ``Dockerfile`` stay exactly what a machine with Docker Hub runs.

Sources followed (apache/airflow at 3.3.2): ``Dockerfile`` (the ``airflow`` user with uid
50000 and gid 0, ``AIRFLOW_HOME=/opt/airflow``, Airflow pip-installed for that user under
``/home/airflow/.local``, ``ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]``) and
``scripts/docker/entrypoint_prod.sh`` (``_AIRFLOW_DB_MIGRATE``, ``CONNECTION_CHECK_MAX_COUNT``,
and its dispatch of ``bash``/``python``/``airflow`` commands). For PostgreSQL,
docker-library/postgres's ``docker-entrypoint.sh`` (``POSTGRES_USER``, ``POSTGRES_PASSWORD``,
``POSTGRES_DB``, initdb on an empty ``PGDATA``, then ``postgres`` as the postgres user).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

PYTHON_BASE = "docker.io/library/python:3.11.14-slim-bookworm"

PROJECT_ROOT = Path(__file__).resolve().parents[4]
"""The checkout (the package is installed editable from ``include/``): where constraints.txt is."""


@dataclass(frozen=True)
class DerivedStandIn:
    """A stand-in built with an image build on another (stood-in or real) base."""

    image: str
    """The upstream name it is tagged with, fully qualified."""
    base: str
    dockerfile: str
    files: tuple[tuple[str, str], ...]
    """(name, text) files the Dockerfile copies from its build context."""
    repo_files: tuple[str, ...]
    """Repository files (relative paths) the build context also carries, e.g. constraints.txt."""
    differences: str

    @property
    def recipe(self) -> str:
        """A digest of how it is built: a stand-in built from an older recipe is built again."""
        fields = (self.base, self.dockerfile, self.files, self.repo_files)
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]

    def write_context(self, folder: Path, repo_root: Path = PROJECT_ROOT) -> None:
        """Fill a build context: the Dockerfile, its own files and the repository files it names."""
        (folder / "Dockerfile").write_text(self.dockerfile, encoding="utf-8")
        for name, text in self.files:
            (folder / name).write_text(text, encoding="utf-8")
        for relative in self.repo_files:
            shutil.copyfile(repo_root / relative, folder / Path(relative).name)


AIRFLOW_ENTRYPOINT = r"""#!/usr/bin/env bash
# What docker-compose.yaml uses of apache/airflow's scripts/docker/entrypoint_prod.sh.
set -euo pipefail

# An arbitrary uid (AIRFLOW_UID) gets a passwd entry with the airflow user's home, as upstream does.
if ! whoami >/dev/null 2>&1 && [[ -w /etc/passwd ]]; then
  name="${USER_NAME:-default}"
  echo "${name}:x:$(id -u):0:${name} user:${AIRFLOW_USER_HOME_DIR}:/sbin/nologin" >> /etc/passwd
fi
export HOME="${AIRFLOW_USER_HOME_DIR}"

wait_for_airflow_db() {
  local max="${CONNECTION_CHECK_MAX_COUNT:-20}" sleep="${CONNECTION_CHECK_SLEEP_TIME:-3}" count=0
  (( max > 0 )) || return 0
  until airflow db check >/dev/null 2>&1; do
    count=$((count + 1))
    if (( count >= max )); then
      echo "ERROR! Maximum number of retries (${max}) reached while checking the database" >&2
      airflow db check
      exit 1
    fi
    sleep "${sleep}"
  done
}

COMMAND="${1:-}"
if [[ "${COMMAND}" == "bash" ]]; then
  shift
  exec /bin/bash "$@"
elif [[ "${COMMAND}" == "python" ]]; then
  shift
  exec python "$@"
elif [[ "${COMMAND}" == "airflow" ]]; then
  shift
fi

wait_for_airflow_db
if [[ "${_AIRFLOW_DB_MIGRATE:-}" == "true" ]]; then
  airflow db migrate
fi
exec airflow "$@"
"""

AIRFLOW_DOCKERFILE = f"""\
FROM {PYTHON_BASE}
ENV AIRFLOW_HOME=/opt/airflow AIRFLOW_UID=50000 AIRFLOW_USER_HOME_DIR=/home/airflow \\
    PATH=/home/airflow/.local/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update && apt-get install -y --no-install-recommends curl dumb-init \\
    && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --shell /bin/bash airflow \\
    && mkdir -p /opt/airflow && chown -R 50000:0 /opt/airflow /home/airflow \\
    && chmod -R g+rwX /opt/airflow /home/airflow && chmod g+w /etc/passwd
COPY --chmod=755 entrypoint /entrypoint
COPY constraints.txt /tmp/constraints.txt
USER 50000
WORKDIR /opt/airflow
RUN python3 -m venv /home/airflow/.local \\
    && pip install --no-cache-dir -c /tmp/constraints.txt "apache-airflow[postgres]==3.3.2" \\
       "apache-airflow-providers-postgres==7.1.1" "asyncpg==0.32.0" "psycopg[binary]==3.3.9" \\
       "psycopg2-binary==2.9.13"
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]
CMD []
"""

POSTGRES_ENTRYPOINT = r"""#!/usr/bin/env bash
# What docker-compose.yaml uses of docker-library/postgres's docker-entrypoint.sh.
set -euo pipefail

if [[ "${1:-}" == "postgres" && "$(id -u)" == "0" ]]; then
  mkdir -p "${PGDATA}" /var/run/postgresql
  chown -R postgres:postgres "${PGDATA}" /var/run/postgresql
  chmod 700 "${PGDATA}"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [[ "${1:-}" == "postgres" && ! -s "${PGDATA}/PG_VERSION" ]]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set: the database accepts password logins only}"
  user="${POSTGRES_USER:-postgres}"
  database="${POSTGRES_DB:-${user}}"
  passwords="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD}" > "${passwords}"
  initdb --username="${user}" --pwfile="${passwords}" --auth-local=trust --auth-host=scram-sha-256 -D "${PGDATA}"
  rm -f "${passwords}"
  echo "host all all all scram-sha-256" >> "${PGDATA}/pg_hba.conf"
  echo "listen_addresses = '*'" >> "${PGDATA}/postgresql.conf"
  if [[ "${database}" != "postgres" ]]; then
    pg_ctl -D "${PGDATA}" -o "-c listen_addresses=''" -w start
    psql -v ON_ERROR_STOP=1 --username "${user}" --dbname postgres -c "CREATE DATABASE \"${database}\""
    pg_ctl -D "${PGDATA}" -m fast -w stop
  fi
fi
exec "$@"
"""

POSTGRES_DOCKERFILE = f"""\
FROM {PYTHON_BASE}
# As upstream: no cluster from the package; the entrypoint makes one in PGDATA.
RUN mkdir -p /etc/postgresql-common \\
    && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \\
    && apt-get update && apt-get install -y --no-install-recommends postgresql-15 \\
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data
COPY --chmod=755 docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
"""

COMPOSE_STAND_INS: dict[str, DerivedStandIn] = {
    stand_in.image: stand_in
    for stand_in in (
        DerivedStandIn(
            image="docker.io/apache/airflow:3.3.2-python3.11",
            base=PYTHON_BASE,
            dockerfile=AIRFLOW_DOCKERFILE,
            files=(("entrypoint", AIRFLOW_ENTRYPOINT),),
            repo_files=("constraints.txt",),
            differences=(
                "built on the Python stand-in (Debian's Python 3.11.2) with apache-airflow 3.3.2 and its "
                "postgres extra only (the provider and its drivers: asyncpg, which Airflow 3's async database "
                "engine needs, psycopg, psycopg2), pinned by the project's constraints.txt, in a virtualenv at "
                "/home/airflow/.local instead of a pip --user install; none of upstream's other providers "
                "(the project's Dockerfile adds the ones it needs); its /entrypoint does only what the compose "
                "file uses of entrypoint_prod.sh (passwd entry, database wait, _AIRFLOW_DB_MIGRATE, command "
                "dispatch): no _AIRFLOW_WWW_USER_CREATE, _PIP_ADDITIONAL_REQUIREMENTS or Celery broker wait"
            ),
        ),
        DerivedStandIn(
            image="docker.io/library/postgres:16",
            base=PYTHON_BASE,
            dockerfile=POSTGRES_DOCKERFILE,
            files=(("docker-entrypoint.sh", POSTGRES_ENTRYPOINT),),
            repo_files=(),
            differences=(
                "PostgreSQL 15 (Debian bookworm's postgresql-15), not 16: 16 is only on PostgreSQL's own apt "
                "repository; built on the Python stand-in; its entrypoint handles only POSTGRES_USER, "
                "POSTGRES_PASSWORD and POSTGRES_DB (no /docker-entrypoint-initdb.d scripts, no trust mode)"
            ),
        ),
    )
}
