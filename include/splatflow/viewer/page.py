"""Build the viewer page from the vendored PlayCanvas engine, so nothing is fetched when it opens.

Everything the page needs (engine, camera script, styles, the run's figures) is inlined into one
HTML file. Uploaded next to ``scene.sog`` in the run's prefix, one presigned link to it opens the
splat named in its fragment (``#sog=<presigned .sog URL>``): the fragment never reaches S3, so it
does not disturb the signature, and the page and the ``.sog`` share an origin, so no CORS is needed.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from splatflow.units import format_size

VIEWER_FILE_NAME = "viewer.html"
"""The page's name next to ``scene.sog`` in a run's ``compress/`` prefix."""

VIEWER_CONTENT_TYPE = "text/html; charset=utf-8"
"""Stored with the page in S3: without it a browser downloads the page instead of opening it."""

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


_METRICS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("gaussians", "Gaussians", lambda value: f"{int(value):,}"),
    ("psnr_db", "PSNR (held-out)", lambda value: f"{value:.2f} dB"),
    ("ssim", "SSIM (held-out)", lambda value: f"{value:.3f}"),
    ("photos_registered", "Photos used", lambda value: f"{int(value):,}"),
    ("sog_bytes", "Download size", format_size),
    ("compression_ratio", "Smaller than .ply by", lambda value: f"{value:.1f}×"),
)
"""The manifest's quality figures a viewer cares about, in the order shown."""


@cache
def _asset(name: str) -> str:
    return files("splatflow.viewer").joinpath("assets", name).read_text(encoding="utf-8")


def _inline_script(source: str) -> str:
    """Script text that cannot end its ``<script>`` element early."""
    return source.replace("</script", "<\\/script")


def metrics_table(quality: Mapping[str, Any]) -> str:
    """An HTML table of the figures the run produced; figures it did not produce are left out."""
    rows = [
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(show(quality[key]))}</td></tr>"
        for key, label, show in _METRICS
        if isinstance(quality.get(key), int | float) and not isinstance(quality.get(key), bool)
    ]
    return f'<table id="metrics">{"".join(rows)}</table>' if rows else ""


INDEX_PRELOAD = """(function () {
  var url = new URLSearchParams(location.hash.slice(1)).get("lod") || %s;
  if (!url) return;
  var link = document.createElement("link");
  link.rel = "preload"; link.as = "fetch"; link.crossOrigin = "anonymous"; link.href = url;
  document.head.appendChild(link);
})();"""


def index_preload(lod_url: str) -> str:
    """A script in the page's head that starts fetching the bundle's index while the page is parsed.

    The viewer asks for ``lod-meta.json`` only after the 2.5 MB inlined engine has been parsed and
    run; preloading it from the page's head overlaps its download with that work. It is a script,
    not a static ``<link>``, because the emailed link names its (presigned) bundle in the ``#lod=``
    fragment, which only the browser sees; the page's default is the fallback, as in viewer.js.
    ``as="fetch"`` with ``crossorigin="anonymous"`` gives the request the mode (cors) and
    credentials (same-origin) of the viewer's plain ``fetch(url)``, so the browser hands that call
    the preloaded response (https://html.spec.whatwg.org/multipage/links.html#link-type-preload,
    https://developer.mozilla.org/en-US/docs/Web/HTML/Reference/Attributes/rel/preload#cors-enabled_fetches).
    """
    return f"<script>{_inline_script(INDEX_PRELOAD % json.dumps(lod_url))}</script>"


def viewer_page(manifest: Mapping[str, Any], sog_url: str = "", lod_url: str = "") -> str:
    """The viewer page for a finished run, showing its ``manifest["quality"]`` figures.

    ``sog_url`` is the splat it opens when its link carries no ``#sog=`` fragment (the Airflow
    plugin serves the ``.sog`` beside the page); a presigned page leaves it empty. ``lod_url``,
    likewise, is a streamed bundle's ``lod-meta.json`` it streams in preference (``#lod=``).
    """
    values = {
        "title": html.escape(f"Splat of run {manifest.get('run_id', '')}".strip()),
        "style": _asset("viewer.css"),
        "sog_url": html.escape(sog_url),
        "lod_url": html.escape(lod_url),
        "preload": index_preload(lod_url),
        "metrics": metrics_table(manifest.get("quality") or {}),
        "engine": _inline_script(_asset("vendor/playcanvas.min.js")),
        "viewer": _inline_script(_asset("viewer.js")),
        "camera": _inline_script(_asset("vendor/orbit-camera.js")),
    }
    # One pass over the template: inlined code is never searched for placeholders itself.
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], _asset(VIEWER_FILE_NAME))


NOTICE_FILE_NAME = "notice.html"


def notice_page(title: str, reason: str, advice: str, run_id: str) -> str:
    """A page in the viewer's style for a run with no splat to show: what happened and what to do."""
    values = {
        "title": html.escape(title),
        "style": _asset("viewer.css"),
        "reason": html.escape(reason),
        "advice": html.escape(advice),
        "run_id": html.escape(run_id),
    }
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], _asset(NOTICE_FILE_NAME))


def viewer_link(page_url: str, sog_url: str, lod_url: str | None = None) -> str:
    """The link that opens ``sog_url`` in the page at ``page_url`` (both may be presigned), or
    streams the bundle at ``lod_url`` (a signed ``lod-meta.json``) with the ``.sog`` to fall back on."""
    link = f"{page_url}#sog={quote(sog_url, safe='')}"
    return f"{link}&lod={quote(lod_url, safe='')}" if lod_url else link
