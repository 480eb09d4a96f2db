"""`murmur report --html` in headless Chromium, and `--svg`/`--png`.

Makes 2 configs x 2 seeds of a tiny synthetic run, writes the page and the
figures, then checks that the page draws without a script error (its title
ends in "(ready)", the error box stays empty) and that the screenshot shows
both groups' colours -- and not a colour no series has. About 10 s.
"""

import json
import re
import shutil
import subprocess

import pytest

TINY = ["--set", "data.dataset=synthetic", "--set", "data.synthetic_train=800",
        "--set", "data.synthetic_test=200", "--set", "peers=4", "--set", "protocol.rounds=6",
        "--set", "eval.every=2", "--set", "model.hidden=[16]", "--quiet"]
# report_html.cc's ReportColor: tab10, one per group in order.
BLUE, ORANGE, GREEN = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0x2C, 0xA0, 0x2C)


def _chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (scripts/install_deps.sh)")


def _browse(tmp_path, url, *args):
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
           "--window-size=1200,1400", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def _pixels_near(image, rgb, tolerance=40):
    import numpy

    pixels = numpy.asarray(image.convert("RGB"), dtype=numpy.int32)
    return int((numpy.abs(pixels - numpy.array(rgb)).sum(axis=-1) <= tolerance).sum())


@pytest.fixture(scope="module")
def report(tmp_path_factory, murmur_bin):
    root = tmp_path_factory.mktemp("report")
    runs = []
    for protocol in ("dpsgd", "gossip"):
        for seed in (1, 2):
            out = root / "runs" / f"{protocol}-s{seed}"
            subprocess.run([str(murmur_bin), "run", *TINY, "--set", f"protocol.kind={protocol}",
                            "--seed", str(seed), "--out", str(out)], check=True, timeout=120)
            runs.append(str(out))
    page, svg, png = root / "page.html", root / "fig.svg", root / "fig.png"
    done = subprocess.run([str(murmur_bin), "report", *runs, "--html", str(page), "--svg",
                           str(svg), "--png", str(png), "--x", "mb", "--log-x", "--at-mb", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {"root": root, "page": page, "svg": svg, "png": png, "table": done.stdout}


def test_table_groups_the_seeds(report):
    lines = report["table"].splitlines()
    assert lines[0].split()[:3] == ["group", "seeds", "final"]
    assert "acc @ 1 MB" in lines[0]
    assert lines[1].startswith("dpsgd-s*") and lines[1].split()[1] == "2"
    assert lines[2].startswith("gossip-s*") and lines[2].split()[1] == "2"
    assert "±" in lines[1]


def test_page_is_self_contained_and_draws_without_errors(report, tmp_path):
    html = report["page"].read_text()
    assert "<script src" not in html and "<link" not in html
    data = json.loads(re.search(r'id="murmur-data">(.*?)</script>', html, re.S).group(1))
    assert [g["label"] for g in data["groups"]] == ["dpsgd-s*", "gossip-s*"]
    dom = _browse(tmp_path, report["page"].as_uri(), "--dump-dom").stdout
    assert "<title>murmur report (ready)</title>" in dom, dom[-2000:]
    assert re.search(r'<div id="murmur-errors"[^>]*></div>', dom), dom[-2000:]
    assert "ready: 2 charts" in dom


def test_screenshot_shows_every_series(report, tmp_path):
    image_module = pytest.importorskip("PIL.Image", reason="python3-pil is not installed")
    shot = tmp_path / "shot.png"
    _browse(tmp_path, report["page"].as_uri(), f"--screenshot={shot}")
    image = image_module.open(shot).convert("RGB")
    # Each legend has a 22x4 swatch per series (2 charts): far fewer pixels
    # than two drawn curves.
    assert _pixels_near(image, BLUE) > 600
    assert _pixels_near(image, ORANGE) > 600
    assert _pixels_near(image, GREEN) < 50  # no third series, nothing drawn in green


def test_figures_show_both_groups_with_full_names(report):
    svg = report["svg"].read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "dpsgd-s* (2 seeds)" in svg and "gossip-s* (2 seeds)" in svg
    image_module = pytest.importorskip("PIL.Image", reason="python3-pil is not installed")
    image = image_module.open(report["png"]).convert("RGB")
    assert _pixels_near(image, BLUE) > 300
    assert _pixels_near(image, ORANGE) > 300
    assert _pixels_near(image, GREEN) < 50
