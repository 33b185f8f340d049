"""The splat viewer: one self-contained web page that shows a run's ``.sog``.

Light on purpose (standard library only): the publish task and the Airflow plugin build the page.
"""

from splatflow.viewer.page import VIEWER_CONTENT_TYPE, VIEWER_FILE_NAME, viewer_link, viewer_page

__all__ = ["VIEWER_CONTENT_TYPE", "VIEWER_FILE_NAME", "viewer_link", "viewer_page"]
