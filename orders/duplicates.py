"""The same need reported twice: what a resident writing a request is shown as "already
reported nearby?", and what the desk is shown as likely duplicates of an order.

Text similarity is the Dice coefficient of the two texts' token sets, where Chinese is cut
into overlapping character pairs (bigrams) plus its single characters, and Latin script into
words. Chinese has no spaces, and a pair of characters carries most of a word's meaning
("水龍頭" → 水龍, 龍頭); measured on 400 synthetic pairs this finds duplicates better than
jieba's word segmentation, three times faster and with no 20 MB dictionary to load
(bench/duplicates.py; the figures and the choice are in docs/decisions.md).

Who sees what: the nearby list is for anyone signed in and shows no personal data (the area's
name, the description masked as an offer masks it, when, and how many follow it); the desk's
duplicates are the caller's desks' orders only, which they may see in full anyway.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet

from core.geo import distance_m, shown_distance_m
from core.names import local_name
from orders.errors import InvalidInput
from orders.models import Category, Order, OrderFollower
from orders.privacy import public_description
from orders.selectors import DESK_ROLES, order_get_for
from orders.states import OPEN
from volunteers.selectors import desk_branch_ids

# A run of CJK ideographs, or a run of letters and digits: the two kinds of token source.
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
# What nearly every request says whatever it is about (greetings, thanks, "help me", "please"):
# as tokens they only made different needs look alike. Cut out before the bigrams are taken,
# in Simplified and Traditional script.
_POLITE = re.compile(
    "|".join(
        [
            "你好", "您好", "谢谢", "謝謝", "麻烦", "麻煩", "请问", "請問", "帮忙", "幫忙", "帮我", "幫我",
            "一下", "非常", "感谢", "感謝", "辛苦", "有人", "能不能", "可以", "需要", "希望", "想要", "请", "請",
        ]
    )
)  # fmt: skip
METRES_PER_DEGREE = 111_320.0
NEARBY_LIMIT = 5
DUPLICATES_LIMIT = 10


# Characters that say nothing of the need on their own (particles, pronouns, "one", "home").
_FUNCTION_CHARS = frozenset("的了我你您他她它们們在是有和就都也要很吗嗎呢吧啊一个個家")


def tokens(text: str | None) -> set[str]:
    """Each Chinese run's character bigrams and its characters (but function characters), and
    lower-cased words of Latin script; punctuation and spaces separate runs and are dropped.
    The single characters let two wordings of one need meet (漏水 / 滴水 share 水)."""
    found: set[str] = set()
    text = _POLITE.sub(" ", unicodedata.normalize("NFKC", text or "").lower())
    for run in _RUNS.findall(text):
        if _CJK_RUN.fullmatch(run):
            found.update(run[i : i + 2] for i in range(len(run) - 1))
            found.update(ch for ch in run if ch not in _FUNCTION_CHARS)
        elif len(run) > 1:
            found.add(run)
    return found


def dice(a: set[str], b: set[str]) -> float:
    """2·|A∩B| / (|A|+|B|): 1 for the same tokens, 0 when nothing is shared (or a text is empty)."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def similarity(a: str | None, b: str | None) -> float:
    return dice(tokens(a), tokens(b))


def _near(orders: QuerySet[Order], lat: float, lng: float, metres: float) -> QuerySet[Order]:
    """A bounding box the database can cut with; the exact distance is checked on the rows."""
    dlat = metres / METRES_PER_DEGREE
    dlng = metres / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(lat))))
    return orders.filter(lat__gte=lat - dlat, lat__lte=lat + dlat, lng__gte=lng - dlng, lng__lte=lng + dlng)


# --- "already reported nearby?" ---------------------------------------------------------------


@dataclass(frozen=True)
class NearbyOrder:
    """An open request as a neighbour may see it: no name, phone, address or exact point."""

    id: int
    category: str
    area: str | None
    description: str
    created_at: datetime
    distance_m: int  # rounded to 100 m, as everywhere (core.geo.shown_distance_m)
    followers: int  # the +1s: neighbours who said "this is mine too" (and merged duplicates)
    following: bool  # the caller follows it already


def nearby_open(
    user, *, category: str, lat: float | None, lng: float | None, text: str = "", limit: int = NEARBY_LIMIT
) -> list[NearbyOrder]:
    """Open requests of `category` within SANDAN["NEARBY_METRES"] of the point (the caller's
    home on their profile when none is given), not the caller's own; the most alike to `text`
    (what they typed so far) first, then the nearest."""
    cat = Category.objects.filter(code=category, active=True).first()
    if cat is None:
        raise InvalidInput(fields={"category": [_unknown_category()]})
    if lat is None or lng is None:
        profile = getattr(user, "resident", None)
        lat, lng = getattr(profile, "lat", None), getattr(profile, "lng", None)
        if lat is None or lng is None:
            return []
    metres = settings.SANDAN["NEARBY_METRES"]
    rows = (
        _near(Order.objects.filter(category=cat, status__in=list(OPEN)), lat, lng, metres)
        .exclude(resident=user)
        .select_related("category", "grid", "resident__resident")
        .annotate(n_followers=Count("followers"))
        .order_by("-created_at")[:200]
    )
    followed = set(OrderFollower.objects.filter(user=user).values_list("order_id", flat=True))
    typed = tokens(text)
    found = []
    for order in rows:
        metres_away = distance_m(lat, lng, order.lat, order.lng)
        if metres_away > metres:
            continue
        found.append((dice(typed, tokens(order.description)), metres_away, order))
    found.sort(key=lambda t: (-t[0], t[1]))
    return [
        NearbyOrder(
            id=order.pk,
            category=local_name(order.category),
            area=local_name(order.grid) if order.grid is not None else None,
            description=public_description(order),
            created_at=order.created_at,
            distance_m=shown_distance_m(away),
            followers=order.n_followers,  # type: ignore[attr-defined]
            following=order.pk in followed,
        )
        for _score, away, order in found[:limit]
    ]


def _unknown_category() -> str:
    from django.utils.translation import gettext as _

    return _("Unknown category.")


# --- the desk's likely duplicates -------------------------------------------------------------


@dataclass(frozen=True)
class Duplicate:
    order: Order
    similarity: float | None  # None: one of the two has no words (a voice note or a photo only)
    distance_m: int
    hours_apart: float


def likely_duplicates(user, order_id: int, *, limit: int = DUPLICATES_LIMIT) -> list[Duplicate]:
    """Open orders of the caller's desks that are likely the same need as `order_id`: the same
    category, within SANDAN["DUPLICATE_METRES"], submitted within SANDAN["DUPLICATE_DAYS"] of
    it, and texts at least SANDAN["DUPLICATE_SIMILARITY"] alike (or no words to compare).
    Empty for a caller who does not sit at the order's desk."""
    order, roles = order_get_for(user, order_id)
    if not roles & DESK_ROLES:
        return []
    conf = settings.SANDAN
    window = timedelta(days=conf["DUPLICATE_DAYS"])
    rows = (
        _near(
            Order.objects.filter(
                category_id=order.category_id,
                status__in=list(OPEN),
                branch_id__in=desk_branch_ids(user),
                created_at__gte=order.created_at - window,
                created_at__lte=order.created_at + window,
            ).exclude(pk=order.pk),
            order.lat,
            order.lng,
            conf["DUPLICATE_METRES"],
        )
        .select_related("category", "grid", "branch")
        .order_by("-created_at")[:200]
    )
    mine = tokens(order.description)
    found = []
    for other in rows:
        away = distance_m(order.lat, order.lng, other.lat, other.lng)
        if away > conf["DUPLICATE_METRES"]:
            continue
        theirs = tokens(other.description)
        score = dice(mine, theirs) if mine and theirs else None
        if score is not None and score < conf["DUPLICATE_SIMILARITY"]:
            continue
        hours = abs((other.created_at - order.created_at).total_seconds()) / 3600
        found.append(Duplicate(other, None if score is None else round(score, 2), shown_distance_m(away), hours))
    found.sort(key=lambda d: (-(d.similarity or 0), d.distance_m, d.hours_apart))
    return found[:limit]
