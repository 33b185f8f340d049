"""The viewer page is one self-contained file: nothing fetched at run time, figures escaped."""

from __future__ import annotations

import re
from urllib.parse import unquote

from splatflow.viewer import viewer_link, viewer_page
from splatflow.viewer.page import metrics_table

PRESIGNED_SOG = "https://work.s3.amazonaws.com/runs/r1/compress/scene.sog?X-Amz-Signature=a%2Fb&X-Amz-Expires=600"


def test_page_loads_nothing_from_elsewhere() -> None:
    page = viewer_page({"run_id": "r1", "quality": {}})

    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    assert "pc.Application" in page  # the engine itself is inlined
    assert "OrbitCamera" in page


def test_page_shows_the_figures_the_run_produced_and_leaves_out_the_rest() -> None:
    table = metrics_table({"gaussians": 123456, "psnr_db": 23.456, "ssim": None, "sog_bytes": 66_300})

    assert "123,456" in table
    assert "23.46 dB" in table
    assert "<td>66.3 kB</td>" in table, "the size in the units the result email gives it"
    assert "SSIM" not in table


def test_page_escapes_what_comes_from_the_run() -> None:
    page = viewer_page({"run_id": "<script>alert(1)</script>"}, sog_url='scene.sog" onload="x')

    assert "<script>alert(1)" not in page
    assert 'data-sog-url="scene.sog&quot; onload=&quot;x"' in page


def test_the_page_preloads_its_bundle_index_from_the_head_by_fragment_or_default() -> None:
    page = viewer_page({"run_id": "r1"}, sog_url="scene.sog", lod_url='lod/lod-meta.json?a=1&b="2"</script>')

    head = page.split("</head>")[0]
    assert head.count('link.rel = "preload"') == 1
    assert 'get("lod") || "lod/lod-meta.json?a=1&b=\\"2\\"<\\/script>"' in head, "the default, escaped for a script"
    presigned = viewer_page({"run_id": "r1"}, sog_url="")
    assert 'get("lod") || ""' in presigned.split("</head>")[0], "an emailed page preloads what its fragment names"


def test_link_carries_the_presigned_sog_whole_in_the_fragment() -> None:
    link = viewer_link("https://work.s3.amazonaws.com/runs/r1/compress/viewer.html?X-Amz-Signature=p", PRESIGNED_SOG)

    page_url, _, fragment = link.partition("#")
    assert page_url.endswith("viewer.html?X-Amz-Signature=p")
    assert fragment.startswith("sog=")
    assert "&" not in fragment and "?" not in fragment
    assert unquote(fragment.removeprefix("sog=")) == PRESIGNED_SOG
