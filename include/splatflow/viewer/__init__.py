"""The splat viewer: one self-contained web page that shows a run's ``.sog``.

Light on purpose (standard library only) and below ``splatflow.pipeline``: the publish task puts
the page beside each run's ``.sog``, and the Airflow plugin's app (``splatflow.viewer_plugin``)
serves it.
"""

from splatflow.viewer.page import VIEWER_CONTENT_TYPE, VIEWER_FILE_NAME, viewer_link, viewer_page

__all__ = ["VIEWER_CONTENT_TYPE", "VIEWER_FILE_NAME", "viewer_link", "viewer_page"]
