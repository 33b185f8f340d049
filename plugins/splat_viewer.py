"""Airflow plugin: the splat viewer on the API server, a "View splat" task link and a run tab.

Loaded by every Airflow component, so it stays light: the viewer app and link live in
``splatflow.viewer_plugin`` and S3 is reached only when a page is requested.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from splatflow.viewer_plugin.link import VIEWER_URL_PREFIX, ViewSplatLink
from splatflow.viewer_plugin.service import create_viewer_app

AWS_CONN_ID = "aws_default"


def _s3() -> Any:
    return S3Hook(aws_conn_id=AWS_CONN_ID).get_conn()


# AirflowPlugin declares its parts as (mutable) class attributes; overriding them is its API.
class SplatViewerPlugin(AirflowPlugin):
    name = "splat_viewer"
    fastapi_apps = [  # noqa: RUF012
        {"app": create_viewer_app(_s3), "url_prefix": VIEWER_URL_PREFIX, "name": "Splat viewer"}
    ]
    external_views = [  # noqa: RUF012
        {
            "name": "Splat",
            "href": VIEWER_URL_PREFIX + "/dags/{DAG_ID}/runs/{RUN_ID}/",
            "destination": "dag_run",
            "url_route": "splat",
        }
    ]
    global_operator_extra_links = [ViewSplatLink()]  # noqa: RUF012
