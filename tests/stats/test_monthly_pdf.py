"""The monthly review PDF prints on a machine without any Chinese font: it is rendered with
poppler's `pdftoppm` with no system font at all, and the Chinese title must leave ink."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from stats.reports import monthly_review, render_pdf
from tests.stats.test_api_and_pages import closed_orders  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

DPI = 100
MM = DPI / 25.4


@pytest.fixture
def no_fonts(tmp_path) -> dict[str, str]:
    """A fontconfig that knows no font: only what the PDF embeds can be drawn."""
    config = tmp_path / "fonts.conf"
    config.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig></fontconfig>')
    return {"FONTCONFIG_FILE": str(config), "PATH": "/usr/bin:/bin"}


def render(pdf: bytes, tmp_path: Path, env: dict[str, str]) -> Image.Image:
    tool = shutil.which("pdftoppm")
    assert tool, "pdftoppm is missing: apt-get install poppler-utils (make test installs it)"
    source = tmp_path / "review.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [tool, "-r", str(DPI), "-f", "1", "-l", "1", "-png", str(source), str(tmp_path / "page")],
        check=True,
        env=env,
        capture_output=True,
    )
    return Image.open(next(tmp_path.glob("page*.png"))).convert("L")


def ink(image: Image.Image, box_mm: tuple[float, float, float, float]) -> int:
    left, top, right, bottom = (round(v * MM) for v in box_mm)
    return sum(image.crop((left, top, right, bottom)).histogram()[:128])  # pixels darker than mid-grey


def test_the_chinese_title_prints_without_a_system_font(world, tmp_path, no_fonts, closed_orders):  # noqa: F811
    pdf = render_pdf(monthly_review(world.north_branch, 2026, 3))
    page = render(pdf, tmp_path, no_fonts)
    # The title "月度评议：…" starts at the 18 mm margin, 16 mm from the top, 16 pt tall: its
    # first four characters are Chinese and nothing else.
    assert ink(page, (18, 16, 18 + 4 * 5.7, 16 + 8)) > 150

    fonts = subprocess.run(["pdffonts", str(tmp_path / "review.pdf")], capture_output=True, text=True, check=True)
    rows = [row.split() for row in fonts.stdout.splitlines()[2:]]
    # Every font is embedded, but for the canvas's initial Helvetica (one of the 14 fonts every
    # PDF reader has); no reader-side CJK font (STSong-Light) is needed.
    assert any("NotoSansSC" in row[0] and row[-5] == "yes" for row in rows), fonts.stdout
    assert all(row[-5] == "yes" or row[0] == "Helvetica" for row in rows), fonts.stdout


def test_the_review_has_charts_and_room_for_comments_and_signatures(world, tmp_path, closed_orders):  # noqa: F811
    review = monthly_review(world.north_branch, 2026, 3)
    assert len(review.days) == 31 and [d["received"] for d in review.days[:6]] == [0, 1, 1, 1, 1, 0]
    pdf = render_pdf(review)
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    for words in ("按提交日期统计的订单", "评议意见", "支部书记", "签名及日期"):
        assert words in text, words
