"""Ids in URLs: a path segment that names a row is a whole number a bigint holds.

Django's `int` converter takes any length of digits, and a number past 2**63 reached the
database as an error (a 500) instead of a 404. `<id:order_id>` matches only what could
name a row; anything else is no URL at all."""

from __future__ import annotations

from django.urls import register_converter

ID_MAX = 2**63 - 1


class IdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= ID_MAX:
            raise ValueError(value)  # Django's resolver: this pattern does not match
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


register_converter(IdConverter, "id")
