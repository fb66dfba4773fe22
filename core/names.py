"""Names of seeded things (categories, skills, areas, branches) in the reader's language.

Each such row has `name` (as first entered) and, where given, `name_zh_hans`,
`name_zh_hant` and `name_en`: a reader of the Simplified interface sees Simplified names,
of the Traditional one Traditional names, of the English one English names, and `name`
where no translation was given. One function, used by the pages, the PDF and the forms.
"""

from __future__ import annotations

from django.utils.translation import get_language

_FIELD_BY_LANGUAGE = {"zh-hans": "name_zh_hans", "zh-hant": "name_zh_hant", "en": "name_en"}


def name_field(language: str | None = None) -> str | None:
    code = (language or get_language() or "").lower()
    if code.startswith("en"):
        return "name_en"
    if code in ("zh-hant", "zh-tw", "zh-hk", "zh-mo"):
        return "name_zh_hant"
    if code.startswith("zh"):
        return "name_zh_hans"
    return _FIELD_BY_LANGUAGE.get(code)


def local_name(obj, language: str | None = None) -> str:
    """`obj`'s name for the reader (the active language unless one is given)."""
    if obj is None:
        return ""
    field = name_field(language)
    translated = getattr(obj, field, "") if field else ""
    return translated or getattr(obj, "name", "") or str(obj)
