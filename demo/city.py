"""The demo city: one street, four communities, sixteen grids, a branch per grid,
hundreds of volunteers and residents, and months of past orders driven through the real
lifecycle services (so every timeline is one the service itself would have written).

Deterministic (seeded) and idempotent: a second run finds the street and changes nothing.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from accounts.models import ResidentProfile, User
from notifications.models import Event
from orders import services
from orders.errors import OrderError
from orders.history import order_backdate
from orders.models import Category, Order
from volunteers.models import Area, Branch, Skill, Volunteer

DEMO_PASSWORD = "sandan-demo"  # noqa: S105 - printed on purpose: these are demo logins
STREET_NAME = "三單街道"
CENTER = (31.2300, 121.4700)
GRID_DEG = 0.006  # about 650 m north-south
COMMUNITIES = ["東苑社區", "西苑社區", "南苑社區", "北苑社區"]
# Every place name in each script and in English (`core.names.local_name`):
# name as seeded (Traditional) → (Simplified, Traditional, English).
PLACE_NAMES = {
    STREET_NAME: ("三单街道", "三單街道", "Sandan Street"),
    "東苑社區": ("东苑社区", "東苑社區", "East Garden Community"),
    "西苑社區": ("西苑社区", "西苑社區", "West Garden Community"),
    "南苑社區": ("南苑社区", "南苑社區", "South Garden Community"),
    "北苑社區": ("北苑社区", "北苑社區", "North Garden Community"),
    "醫護志願者支部": ("医护志愿者支部", "醫護志願者支部", "Medical Volunteers Branch"),
}


def place_names(name: str) -> dict[str, str]:
    """The translated name fields of a demo place, from its seeded (Traditional) name: the
    street, a community, a grid ("東苑第1網格") or a grid's branch ("東苑第1網格黨支部")."""
    if name in PLACE_NAMES:
        hans, hant, en = PLACE_NAMES[name]
        return {"name_zh_hans": hans, "name_zh_hant": hant, "name_en": en}
    branch = name.endswith("黨支部")
    grid = name.removesuffix("黨支部")
    for community, (c_hans, _c_hant, c_en) in PLACE_NAMES.items():
        prefix = community[:2]
        if community.endswith("社區") and grid.startswith(prefix + "第") and grid.endswith("網格"):
            number = grid[len(prefix) + 1 : -2]
            hans = f"{c_hans[:2]}第{number}网格" + ("党支部" if branch else "")
            en = c_en.replace(" Community", f" Grid {number}") + (" Party Branch" if branch else "")
            return {"name_zh_hans": hans, "name_zh_hant": name, "name_en": en}
    return {}


def demo_names_fill() -> int:
    """Give the demo city's places their names in each script (a city loaded before they
    existed gets them on the next `load_demo`). Returns how many rows changed."""
    changed = 0
    for model in (Area, Branch):
        for row in model.objects.filter(name_zh_hans=""):
            names = place_names(row.name)
            if names:
                model.objects.filter(pk=row.pk).update(**names)
                changed += 1
    return changed


SURNAMES = "王李張劉陳楊黃趙吳周徐孫馬朱胡郭何林高羅"
GIVEN = "偉芳娜敏靜麗強磊軍洋勇艷傑娟濤明超秀霞平剛桂英華"
STREETS = ["幸福路", "和平街", "建設路", "人民路", "團結巷", "光明街", "友誼路", "長青里"]
REQUESTS = {
    "elderly": ["想請人陪老伴聊聊天，週末下午都可以。", "獨居老人需要每週探訪一次。"],
    "errands": ["幫忙去藥店買降壓藥，處方在我這裡。", "腿腳不便，需要有人幫忙買米和油。"],
    "repair": ["廚房水龍頭一直漏水。", "臥室的燈不亮了，可能是開關壞了。"],
    "medical": ["下週二要去醫院複查，需要有人陪同。", "需要幫忙預約掛號並陪診。"],
    "tutoring": ["孩子三年級數學需要輔導。", "想找人教孩子英語閱讀。"],
    "digital": ["不會用手機掛號，請教一下。", "想學用手機視頻通話和孫子聊天。"],
    "cleaning": ["樓道堆了很多雜物，需要清理。", "家裡大掃除需要幫手。"],
    "needy": ["家裡困難，想了解低保申請。", "冬天了，需要一些過冬衣物。"],
    "mediation": ["樓上鄰居裝修噪音太大，想請人調解。", "和鄰居因為停車位有糾紛。"],
    "policy": ["想了解醫保報銷的新政策。", "請講解一下養老金調整的政策。"],
    "opinion": ["建議小區增設健身器材。", "小區門口路燈壞了很久，希望反映。"],
    "civility": ["想組織樓棟垃圾分類宣傳。", "希望有人來講講文明養犬。"],
}


@dataclass
class DemoSummary:
    created: bool
    grids: int
    branches: int
    volunteers: int
    residents: int
    orders: int


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")


def _jitter(rng: random.Random, lat: float, lng: float, spread: float) -> tuple[float, float]:
    return round(lat + rng.uniform(-spread, spread), 6), round(lng + rng.uniform(-spread, spread), 6)


def load_demo(*, orders: int = 520, volunteers: int = 320, residents: int = 60, seed: int = 7) -> DemoSummary:
    if Area.objects.filter(level=Area.Level.STREET, name=STREET_NAME).exists():
        demo_names_fill()
        return _summary(created=False)
    rng = random.Random(seed)
    with transaction.atomic():
        _build_city(rng, volunteers=volunteers, residents=residents)
        _build_history(rng, orders=orders)
        # Past events are history, not news: nothing to push to phones.
        Event.objects.filter(pushed_at__isnull=True).update(pushed_at=timezone.now())
    return _summary(created=True)


def _summary(*, created: bool) -> DemoSummary:
    return DemoSummary(
        created=created,
        grids=Area.objects.filter(level=Area.Level.GRID).count(),
        branches=Branch.objects.count(),
        volunteers=Volunteer.objects.count(),
        residents=ResidentProfile.objects.count(),
        orders=Order.objects.count(),
    )


def _build_city(rng: random.Random, *, volunteers: int, residents: int) -> None:
    password = make_password(DEMO_PASSWORD)  # hash once: PBKDF2 per user would take minutes

    def user(username: str, **extra: Any) -> User:
        return User.objects.create(username=username, password=password, display_name=extra.pop("name", ""), **extra)

    street = Area.objects.create(
        name=STREET_NAME,
        level=Area.Level.STREET,
        center_lat=CENTER[0],
        center_lng=CENTER[1],
        **place_names(STREET_NAME),
    )
    grids: list[Area] = []
    for c, community_name in enumerate(COMMUNITIES):
        c_lat = CENTER[0] + (GRID_DEG if c in (0, 1) else -GRID_DEG)
        c_lng = CENTER[1] + (GRID_DEG if c in (0, 2) else -GRID_DEG)
        community = Area.objects.create(
            name=community_name,
            level=Area.Level.COMMUNITY,
            parent=street,
            center_lat=c_lat,
            center_lng=c_lng,
            **place_names(community_name),
        )
        for g in range(4):
            lat = c_lat + (GRID_DEG / 2 if g < 2 else -GRID_DEG / 2)
            lng = c_lng + (GRID_DEG / 2 if g % 2 == 0 else -GRID_DEG / 2)
            h = GRID_DEG / 2
            grids.append(
                Area.objects.create(
                    name=f"{community_name[:2]}第{g + 1}網格",
                    **place_names(f"{community_name[:2]}第{g + 1}網格"),
                    level=Area.Level.GRID,
                    parent=community,
                    center_lat=round(lat, 6),
                    center_lng=round(lng, 6),
                    polygon=[[lat - h, lng - h], [lat - h, lng + h], [lat + h, lng + h], [lat + h, lng - h]],
                )
            )
    branches = [
        Branch.objects.create(name=f"{grid.name}黨支部", area=grid, **place_names(f"{grid.name}黨支部"))
        for grid in grids
    ]
    medical = Branch.objects.create(
        name="醫護志願者支部", area=street, kind=Branch.Kind.FUNCTIONAL, **place_names("醫護志願者支部")
    )
    medical.categories.set(Category.objects.filter(code__in=["medical", "elderly"]))
    for i, branch in enumerate(branches):
        branch.secretaries.add(user(f"secretary-{i + 1:02d}", name=_name(rng) + "書記"))

    skills = list(Skill.objects.all())
    for i in range(volunteers):
        branch = branches[i % len(branches)]
        lat, lng = _jitter(rng, branch.area.center_lat, branch.area.center_lng, GRID_DEG)
        v = Volunteer.objects.create(
            user=user(f"volunteer-{i + 1:03d}", name=_name(rng)),
            base_lat=lat,
            base_lng=lng,
            service_radius_km=rng.choice([2.0, 3.0, 5.0]),
            capacity=rng.choice([2, 3, 3, 4]),
            on_duty=rng.random() < 0.55,
        )
        v.branches.add(branch)
        if rng.random() < 0.08:
            v.branches.add(medical)
        v.skills.set(rng.sample(skills, k=rng.randint(1, 4)))

    for i in range(residents):
        grid = grids[i % len(grids)]
        lat, lng = _jitter(rng, grid.center_lat, grid.center_lng, GRID_DEG / 2.5)
        ResidentProfile.objects.create(
            user=user(f"resident-{i + 1:03d}", name=_name(rng)),
            phone=f"139{rng.randint(10_000_000, 99_999_999)}",
            address=f"{rng.choice(STREETS)}{rng.randint(1, 300)}號{rng.randint(1, 30)}棟{rng.randint(101, 2402)}室",
            lat=lat,
            lng=lng,
            grid=grid,
        )

    # The named demo accounts (README, "Demo logins"), all around the first grid.
    home = grids[0]
    home_branch = branches[0]
    demo_resident = user("demo-resident", name="張阿姨")
    ResidentProfile.objects.create(
        user=demo_resident,
        phone="13900001234",
        address="幸福路88號3棟502室",
        lat=home.center_lat,
        lng=home.center_lng,
        grid=home,
    )
    secretary = user("demo-secretary", name="李書記")
    home_branch.secretaries.add(secretary)
    for username, name, d in (("demo-volunteer", "王小明", 0.0015), ("demo-volunteer2", "陳曉紅", -0.0015)):
        v = Volunteer.objects.create(
            user=user(username, name=name),
            base_lat=home.center_lat + d,
            base_lng=home.center_lng + d,
            service_radius_km=3.0,
            capacity=3,
            on_duty=True,
        )
        v.branches.add(home_branch)
        v.skills.set(Skill.objects.filter(code__in=["errands", "elderly-care", "digital", "repair"]))
    staff = user("demo-staff", name="周主任", is_staff=True)
    assert home.parent is not None
    home.parent.staff.add(staff)
    staff.groups.add(_staff_group())
    User.objects.create(
        username="demo-admin", password=password, is_staff=True, is_superuser=True, display_name="管理員"
    )


def _staff_group() -> Group:
    group, _ = Group.objects.get_or_create(name="Community staff")
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["orders", "volunteers", "accounts", "notifications"],
            codename__regex=r"^(view|change)_",
        )
    )
    return group


# Share of past orders ending in each state (most are done, some are still under way).
OUTCOMES = [
    ("closed", 50),
    ("closed_low", 4),
    ("reopened", 3),
    ("completed", 8),
    ("in_progress", 4),
    ("claimed", 4),
    ("dispatched", 5),
    ("accepted", 5),
    ("submitted", 6),
    ("rejected", 4),
    ("cancelled", 5),
    ("transferred", 2),
]


def _build_history(rng: random.Random, *, orders: int) -> None:
    residents = list(ResidentProfile.objects.select_related("user", "grid"))
    categories = {c.code: c for c in Category.objects.all()}
    outcomes = [name for name, weight in OUTCOMES for _ in range(weight)]
    now = timezone.now()
    for _ in range(orders):
        profile = rng.choice(residents)
        code = rng.choice(list(REQUESTS))
        data = services.OrderInput(
            category=code,
            description=rng.choice(REQUESTS[code]),
            urgency=rng.choice(["low", "normal", "normal", "normal", "high", "urgent"]),
        )
        order, _ = services.order_submit(resident=profile.user, data=data)
        outcome = rng.choice(outcomes)
        # Orders still under way are recent; finished ones spread over the last quarter.
        recent = outcome in {"submitted", "accepted", "dispatched", "claimed", "in_progress", "completed"}
        start = now - (timedelta(hours=rng.uniform(0.5, 30)) if recent else timedelta(days=rng.uniform(2, 90)))
        # OrderError: nobody free nearby, so the order simply stays where it got to.
        with contextlib.suppress(OrderError):
            _play(rng, order, outcome, categories[code])
        _backdate(rng, order.pk, start)


def _play(rng: random.Random, order: Order, outcome: str, category: Category) -> None:
    secretary = order.branch.secretaries.first()
    resident = order.resident
    oid = order.pk
    if outcome == "submitted":
        return
    if outcome == "rejected":
        services.order_reject(order_id=oid, user=secretary, reason="不屬於本支部服務範圍，已建議聯繫物業。")
        return
    if outcome == "transferred":
        others = list(Branch.objects.exclude(pk=order.branch_id).filter(kind=Branch.Kind.TERRITORIAL).order_by("id"))
        target = rng.choice(others)
        services.order_transfer(order_id=oid, user=secretary, reason="更靠近該網格的支部處理。", branch_id=target.pk)
        return
    services.order_accept(order_id=oid, user=secretary)
    if outcome == "accepted":
        return
    if outcome == "cancelled":
        services.order_cancel(order_id=oid, user=resident, reason="問題已自行解決。")
        return
    services.order_dispatch(order_id=oid, user=secretary, mode="pool", top=3)
    if outcome == "dispatched":
        return
    offer = Order.objects.get(pk=oid).offers.filter(status="open").select_related("volunteer__user").first()
    if offer is None:
        return
    volunteer = offer.volunteer.user
    services.order_claim(order_id=oid, user=volunteer)
    if outcome == "claimed":
        return
    services.order_start(order_id=oid, user=volunteer)
    if outcome == "in_progress":
        return
    hours = Decimal(rng.choice(["0.5", "1", "1", "1.5", "2", "3"]))
    services.order_complete(order_id=oid, user=volunteer, note="已完成，居民表示滿意。", hours=hours)
    if outcome == "completed":
        return
    if outcome == "reopened":
        services.order_reopen(order_id=oid, user=resident, reason="問題又出現了，請再來看看。")
        return
    rating = rng.choice([4, 5, 5, 5]) if outcome == "closed" else rng.choice([1, 2, 3])
    comment = "非常感謝，服務很周到！" if rating >= 4 else "來得太晚了。"
    services.order_confirm(order_id=oid, user=resident, rating=rating, comment=comment)


def _backdate(rng: random.Random, order_id: int, start) -> None:
    """Spread an order's timeline from `start` with believable gaps between its steps."""
    gaps = {
        "accept": (5, 120),
        "reject": (5, 120),
        "transfer": (5, 90),
        "cancel": (10, 600),
        "dispatch": (2, 60),
        "claim": (1, 45),
        "start": (10, 240),
        "complete": (20, 180),
        "confirm": (30, 2880),
        "reopen": (60, 2880),
    }

    def gap(action: str) -> timedelta:
        low, high = gaps.get(action, (1, 30))
        return timedelta(minutes=rng.uniform(low, high))

    order_backdate(order_id=order_id, start=start, gap=gap)
