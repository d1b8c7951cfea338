"""Render the report in headless Chromium and check that every plot image is present and decodes.

Chromium comes from Debian's package (scripts/ensure-chromium.sh installs it; `make test` runs that).
In CI (CI=true) a missing chromium fails the test; on a developer machine without it, the test skips.
"""

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from srpo.report.htmlpage import figure_section, page
from srpo.report.plots import FigureSpec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def chromium() -> str:
    """Path of the chromium binary; requested before the report fixture so a skip costs no rendering."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    msg = f"chromium is not installed; run {REPO / 'scripts/ensure-chromium.sh'} as root"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(msg)
    pytest.skip(msg)


def dump_dom(chromium: str, html_path: Path, tmp_path: Path) -> str:
    """The page's DOM after load, as headless Chromium sees it (the page's inline script has run)."""
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", html_path.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _plots(dom: str) -> dict[str, str]:
    """plot id -> value of its data-decoded attribute ('' when the script never marked it)."""
    out = {}
    for tag in re.findall(r"<img [^>]*>", dom):
        if 'class="plot"' in tag:
            pid = re.search(r'id="([^"]+)"', tag).group(1)
            decoded = re.search(r'data-decoded="([^"]*)"', tag)
            out[pid] = decoded.group(1) if decoded else ""
    return out


@pytest.mark.slow
def test_every_plot_renders_in_chromium(chromium, two_run_report, tmp_path):
    html_path = two_run_report[2]
    expected = {f"plot-{p.stem}" for p in html_path.parent.glob("*.png")}
    assert len(expected) == 10
    dom = dump_dom(chromium, html_path, tmp_path)
    assert _plots(dom) == {pid: "yes" for pid in expected}
    assert 'data-plots-decoded="10/10"' in dom
    widths = [int(w) for w in re.findall(r'data-natural-width="(\d+)"', dom)]
    assert len(widths) == 10 and min(widths) > 300


def test_broken_image_is_detected(chromium, tmp_path):
    # The check must be able to fail: a corrupt PNG is reported as not decoded.
    good = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
    )
    spec = lambda name: FigureSpec(name, name, "", ((None,),))  # noqa: E731
    html = page(["r"], "", [(spec("ok"), good), (spec("broken"), b"\x89PNG not really")])
    path = tmp_path / "r.html"
    path.write_text(html)
    dom = dump_dom(chromium, path, tmp_path)
    assert _plots(dom) == {"plot-ok": "yes", "plot-broken": "no"}
    assert 'data-plots-decoded="1/2"' in dom
    assert figure_section(spec("ok"), good) in html
