"""What every Airflow component imports, and prints, on this project's pinned packages.

Airflow's API server and its services are built with ``svcs``, whose FastAPI and Starlette
modules import ``starlette.testclient`` at import time; Starlette 1.10 warns there, once per
process, that its test client on ``httpx`` is deprecated unless ``httpx2`` is installed. Every
component of ``make up`` printed that warning; requirements.txt installs ``httpx2``.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import svcs.fastapi, svcs.starlette
print(json.dumps([f"{w.category.__name__}: {w.message}" for w in caught]))
"""


def test_airflows_service_modules_import_without_starlettes_httpx_deprecation() -> None:
    printed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    warned = json.loads(printed.strip().splitlines()[-1])

    assert [message for message in warned if "httpx" in message] == []
