"""`manage.py build_pdf_font SOURCE.ttf`: write the CJK font the monthly PDF embeds
(`stats/fonts/`), a subset of Noto Sans SC so that the repository stays small.

The source is Noto Sans SC Regular as a TrueType font (glyf outlines, which the PDF library
embeds), e.g. `400Regular/NotoSansSC_400Regular.ttf` of the npm package
`@expo-google-fonts/noto-sans-sc` (SIL Open Font License 1.1, `stats/fonts/OFL.txt`).

Kept: printable ASCII, CJK punctuation and full-width forms, the 3,755 most common Simplified
characters (GB 2312 level 1) and the 5,401 most common Traditional ones (Big5 level 1), and
every character of the translations and the seeded names, so that every label of both Chinese
interfaces prints. A rarer character in a name or a comment falls back to the PDF reader's own
Song font (`stats.reports`). fontTools is a development tool (requirements-dev.txt).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

FONT_DIR = Path(__file__).resolve().parents[2] / "fonts"
TARGET = FONT_DIR / "NotoSansSC-Sandan.ttf"


def _decoded(codec: str, first: int, last: int) -> set[str]:
    out = set()
    for code in range(first, last + 1):
        with contextlib.suppress(UnicodeDecodeError):  # a code the set leaves unassigned
            out.add(code.to_bytes(2, "big").decode(codec))
    return out


def characters() -> set[str]:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    chars |= {chr(c) for c in range(0x3000, 0x3040)} | {chr(c) for c in range(0xFF00, 0xFFF0)}
    chars |= set("—–…·•★☆“”‘’←→↑↓≥≤÷×±°%‰№")
    chars |= _decoded("gb2312", 0xB0A1, 0xD7FE)  # GB 2312 level 1
    chars |= _decoded("big5", 0xA440, 0xC67E)  # Big5 level 1
    base = Path(settings.BASE_DIR)
    for po in [*base.glob("locale/zh_*/LC_MESSAGES/django.po"), *base.glob("*/locale/zh_*/LC_MESSAGES/django.po")]:
        chars |= set(po.read_text(encoding="utf-8"))
    for seeded in (base / "orders" / "seed.py", base / "volunteers" / "demo.py"):
        chars |= set(seeded.read_text(encoding="utf-8"))
    return {c for c in chars if c.isprintable()}


class Command(BaseCommand):
    help = "Subset Noto Sans SC (TrueType) into stats/fonts/NotoSansSC-Sandan.ttf for the monthly PDF."
    requires_system_checks: list = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("source", help="NotoSansSC Regular .ttf (glyf outlines)")

    def handle(self, *args: Any, **options: Any) -> None:
        import logging

        from fontTools import subset
        from fontTools.ttLib import TTFont

        logging.getLogger("fontTools").setLevel(logging.WARNING)

        wanted = characters()
        opts = subset.Options()
        opts.layout_features = []  # no shaping needed for CJK and Latin labels
        opts.hinting = False
        opts.name_IDs = ["*"]  # keep the copyright and licence records
        opts.notdef_outline = True
        font = TTFont(options["source"])
        subsetter = subset.Subsetter(opts)
        subsetter.populate(unicodes=[ord(c) for c in wanted])
        subsetter.subset(font)
        FONT_DIR.mkdir(exist_ok=True)
        font.save(TARGET)
        self.stdout.write(f"{TARGET}: {len(font.getBestCmap())} characters, {TARGET.stat().st_size // 1024} KiB")
