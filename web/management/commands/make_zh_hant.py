"""`manage.py make_zh_hant`: write the Traditional Chinese catalogues (`zh_Hant`) from the
Simplified ones, so both scripts always carry the same sentences.

The conversion is OpenCC's (`s2t`, characters and common phrases); the few words where the
Traditional interface says something else than the character-for-character conversion are
listed in CORRECTIONS. Run it after translating new strings into zh_Hans, then
`compilemessages`. OpenCC is a development tool (requirements-dev.txt), not needed to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

# Whole-word fixes after conversion: (what OpenCC writes, what the interface says).
CORRECTIONS: list[tuple[str, str]] = [
    ("工作臺", "工作台"),  # the desk: 台 is how both Taiwan and Hong Kong write it
    ("裏", "裡"),
]


class Command(BaseCommand):
    help = "Write every zh_Hant catalogue from its zh_Hans sibling (OpenCC s2t)."
    requires_system_checks: list = []

    def handle(self, *args: Any, **options: Any) -> None:
        import opencc
        import polib  # type: ignore[import-untyped]

        convert = opencc.OpenCC("s2t").convert

        def traditional(text: str) -> str:
            out = convert(text)
            for wrong, right in CORRECTIONS:
                out = out.replace(wrong, right)
            return out

        roots = [Path(p) for p in settings.LOCALE_PATHS] + sorted(Path(settings.BASE_DIR).glob("*/locale"))
        for root in dict.fromkeys(roots):
            source = root / "zh_Hans" / "LC_MESSAGES" / "django.po"
            if not source.exists():
                continue
            po = polib.pofile(str(source), wrapwidth=0)
            po.metadata["Language"] = "zh_Hant"
            for entry in po:
                entry.msgstr = traditional(entry.msgstr) if entry.msgstr else ""
                if entry.msgstr_plural:
                    entry.msgstr_plural = {k: traditional(v) for k, v in entry.msgstr_plural.items()}
            target = root / "zh_Hant" / "LC_MESSAGES" / "django.po"
            target.parent.mkdir(parents=True, exist_ok=True)
            po.save(str(target))
            self.stdout.write(f"{target}: {len(po.translated_entries())} translated")
