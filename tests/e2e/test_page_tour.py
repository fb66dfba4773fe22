"""Every page, as each role opens it, at phone and desk size, in Simplified Chinese and English:
it answers, it has the one navigation, and at phone size nothing is wider than the screen.

Each visit leaves a screenshot in artifacts/screenshots/tour/. With SANDAN_DOCS_SCREENSHOTS=1
they are also written, small, to docs/pages/ (the pictures of docs/pages.md):

    SANDAN_DOCS_SCREENSHOTS=1 .venv/bin/python -m pytest tests/e2e/test_page_tour.py
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from orders import services
from orders.attachments import order_attach
from stats.services import review_sample_draw
from tests.e2e.conftest import DESKTOP, PHONE, ROOT, SCREENSHOTS
from tests.factories import BASE_LAT, BASE_LNG, VolunteerFactory
from timebank.services import redemption_item_create, timebank_redeem
from volunteers.services import volunteer_record_location

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DOCS = ROOT / "docs" / "pages"
LANGUAGES = {"zh-Hans": "zh-CN", "en": "en-GB"}
SIZES = {"phone": PHONE, "desk": DESKTOP}
MAX_HEIGHT = {"phone": 2200, "desk": 1500}  # long pages are cut: the top is what people see first


@dataclass(frozen=True)
class Visit:
    name: str
    who: str | None
    path: str
    status: int = 200
    map: bool = False  # a map's small coloured markers: the docs' PNG keeps their colours apart


def _jpeg() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 150, 120)).save(out, format="JPEG")
    return SimpleUploadedFile("photo.jpg", out.getvalue(), content_type="image/jpeg")


def _name(obj, hans: str, hant: str, en: str) -> None:
    obj.name, obj.name_zh_hans, obj.name_zh_hant, obj.name_en = hant, hans, hant, en
    obj.save()


@pytest.fixture
def city(world, resident, secretary, staff, volunteer, volunteer2):
    """A small neighbourhood with requests in every state, named as in the demo."""
    _name(world.street, "三单街道", "三單街道", "Sandan Street")
    _name(world.community, "东苑社区", "東苑社區", "East Garden Community")
    _name(world.north, "东苑第1网格", "東苑第1網格", "East Garden Grid 1")
    _name(world.south, "东苑第2网格", "東苑第2網格", "East Garden Grid 2")
    _name(world.north_branch, "东苑第1网格党支部", "東苑第1網格黨支部", "East Garden Grid 1 Party Branch")
    _name(world.south_branch, "东苑第2网格党支部", "東苑第2網格黨支部", "East Garden Grid 2 Party Branch")
    for user, name in ((resident, "张阿姨"), (secretary, "李书记"), (staff, "周主任"), (volunteer, "王小明")):
        user.display_name = name
        user.save()
    volunteer2.display_name = "陈晓红"
    volunteer2.save()
    type(volunteer.volunteer).objects.filter(user=volunteer).update(capacity=10)  # holds several at once here
    third = VolunteerFactory(user__username="volunteer3", user__display_name="刘伟", branches=[world.north_branch])
    third.base_lat = BASE_LAT + 0.002
    third.save()
    # The grids' outlines and where the volunteers on duty are, for the desk's map.
    world.north.polygon = [[BASE_LAT - 0.01, BASE_LNG - 0.008], [BASE_LAT - 0.01, BASE_LNG + 0.008],
                           [BASE_LAT + 0.008, BASE_LNG + 0.008], [BASE_LAT + 0.008, BASE_LNG - 0.008]]  # fmt: skip
    world.north.save()
    world.south.polygon = [[BASE_LAT - 0.03, BASE_LNG - 0.008], [BASE_LAT - 0.03, BASE_LNG + 0.008],
                           [BASE_LAT - 0.01, BASE_LNG + 0.008], [BASE_LAT - 0.01, BASE_LNG - 0.008]]  # fmt: skip
    world.south.save()
    volunteer_record_location(user_id=volunteer.pk, lat=BASE_LAT + 0.0025, lng=BASE_LNG - 0.002)
    volunteer_record_location(user_id=volunteer2.pk, lat=BASE_LAT - 0.003, lng=BASE_LNG + 0.0035)
    # Requests spread over the grid (the map would draw them all on one spot).
    spots = iter([(0.0012, -0.0031), (-0.0041, 0.0022), (0.0035, 0.0043), (-0.0018, -0.0052), (0.0052, -0.0008),
                  (-0.0062, -0.0015), (0.0021, 0.0061), (-0.0029, 0.0049), (0.0044, -0.0047),
                  (-0.0008, 0.0028)])  # fmt: skip

    def submit(text: str, category: str = "errands", **extra):
        north, east = next(spots)
        data = services.OrderInput(
            category=category, description=text, lat=BASE_LAT + north, lng=BASE_LNG + east, **extra
        )
        return services.order_submit(resident=resident, data=data)[0]

    def dispatch(order, who=volunteer):
        services.order_accept(order_id=order.pk, user=secretary)
        services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=who.volunteer.pk)

    orders = {}
    orders["urgent"] = submit("家里水管爆了，请尽快来人帮忙关总阀。", "repair", urgency="urgent")
    orders["waiting"] = submit("想了解医保报销的新政策。", "policy")
    orders["call-me"] = submit("请给我回电话。", "elderly", kind="callback")
    orders["accepted"] = submit("帮忙去药店买降压药，处方在我这里。")
    services.order_accept(order_id=orders["accepted"].pk, user=secretary)
    orders["offered"] = submit("腿脚不便，需要有人帮忙买米和油。")
    services.order_accept(order_id=orders["offered"].pk, user=secretary)
    services.order_dispatch(
        order_id=orders["offered"].pk,
        user=secretary,
        mode="pool",
        volunteers=[volunteer2.volunteer.pk, third.pk],
    )
    services.order_decline(order_id=orders["offered"].pk, user=third.user)
    orders["claimed"] = submit("下周二要去医院复查，需要有人陪同。", "medical")
    dispatch(orders["claimed"])
    services.order_claim(order_id=orders["claimed"].pk, user=volunteer)
    orders["working"] = submit("厨房水龙头一直漏水。", "repair")
    order_attach(order_id=orders["working"].pk, user=resident, kind="photo", upload=_jpeg())
    dispatch(orders["working"])
    services.order_claim(order_id=orders["working"].pk, user=volunteer)
    services.order_start(order_id=orders["working"].pk, user=volunteer)
    orders["done"] = submit("独居老人需要每周探访一次。", "elderly")
    dispatch(orders["done"])
    services.order_claim(order_id=orders["done"].pk, user=volunteer)
    services.order_start(order_id=orders["done"].pk, user=volunteer)
    services.order_complete(order_id=orders["done"].pk, user=volunteer, note="陪老人聊了一下午", hours=Decimal("3"))
    for text, stars in (("想学用手机视频通话和孙子聊天。", 5), ("樓道堆了很多雜物，需要清理。", 4)):
        closed = submit(text, "digital")
        dispatch(closed)
        services.order_claim(order_id=closed.pk, user=volunteer)
        services.order_start(order_id=closed.pk, user=volunteer)
        services.order_complete(order_id=closed.pk, user=volunteer, note="", hours=Decimal("2.5"))
        services.order_confirm(order_id=closed.pk, user=resident, rating=stars, comment="谢谢！")
    item = redemption_item_create(actor=staff, name="理发一次", cost=Decimal("1"), stock=20)
    timebank_redeem(user=volunteer, item_id=item.pk)
    today = timezone.localdate()
    review_sample_draw(
        user=staff, start=today.replace(day=1), end=today, percent=Decimal("50"), branch_id=world.north_branch.pk
    )
    return orders


def visits(orders, branch_id: int) -> list[Visit]:
    month = f"{timezone.localdate():%Y-%m}"
    return [
        Visit("sign-in", None, "/accounts/login/"),
        Visit("sign-up", None, "/accounts/signup/"),
        Visit("my-requests", "resident", "/orders/"),
        Visit("new-request", "resident", "/orders/new"),
        Visit("call-me-back", "resident", "/orders/call-me"),
        Visit("request-to-confirm", "resident", f"/orders/{orders['done'].pk}/"),
        Visit("volunteer", "volunteer", "/volunteer/"),
        Visit("volunteer-task", "volunteer", f"/orders/{orders['working'].pk}/"),
        Visit("hours", "volunteer", "/volunteer/hours"),
        Visit("time-bank", "volunteer", "/timebank/"),
        Visit("leaderboard", "volunteer", "/timebank/leaderboard/"),
        Visit("branch-desk", "secretary", "/desk/", map=True),
        Visit("desk-map", "secretary", f"/desk/?order={orders['accepted'].pk}", map=True),
        Visit("dispatch", "secretary", f"/orders/{orders['accepted'].pk}/"),
        Visit("offers-held", "secretary", f"/orders/{orders['offered'].pk}/"),
        Visit("community-desk", "staff", "/desk/", map=True),
        Visit("statistics", "staff", "/stats/"),
        Visit("monthly-review", "staff", f"/stats/monthly/{branch_id}/{month}/"),
        Visit("call-backs", "staff", "/stats/samples/"),
        Visit("time-bank-desk", "staff", "/timebank/manage/"),
        Visit("not-found", "resident", "/volunteer/", status=404),
        Visit("offline", "volunteer", "/offline"),
    ]


def save_small(png: bytes, target: Path, size: str, map: bool = False) -> None:
    """A palette PNG, 390 px wide for a phone and 960 px for a desk: the docs stay light."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width = 960 if size == "desk" else 390
    image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    if map:  # median cut merges a few small markers' hues into their neighbours'; octree keeps them
        image = image.quantize(colors=128, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    else:
        image = image.quantize(colors=48, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, optimize=True)


def test_every_page_at_both_sizes_in_both_languages(open_as, categories, world, city, request):
    people = {name: request.getfixturevalue(name) for name in ("resident", "volunteer", "secretary", "staff")}
    docs = os.environ.get("SANDAN_DOCS_SCREENSHOTS") == "1"
    tour = SCREENSHOTS / "tour"
    tour.mkdir(parents=True, exist_ok=True)
    problems = []
    for language, locale in LANGUAGES.items():
        for size, viewport in SIZES.items():
            pages = {}
            for visit in visits(city, world.north_branch.pk):
                if visit.who not in pages:
                    user = people[visit.who] if visit.who else None
                    pages[visit.who] = open_as(user, viewport=viewport, phone=size == "phone", locale=locale)
                page = pages[visit.who]
                response = page.goto(visit.path)
                assert response is not None
                if response.status != visit.status:
                    problems.append(f"{language} {size} {visit.name}: HTTP {response.status}")
                    continue
                page.wait_for_load_state("networkidle")
                if visit.who and page.locator("nav.nav a").count() == 0:
                    problems.append(f"{language} {size} {visit.name}: no navigation")
                if size == "phone":
                    wide = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
                    if wide > 1:
                        problems.append(f"{language} {size} {visit.name}: {wide} px wider than the screen")
                height = min(page.evaluate("document.scrollingElement.scrollHeight"), MAX_HEIGHT[size])
                shot = page.screenshot(
                    clip={"x": 0, "y": 0, "width": viewport["width"], "height": height}, full_page=True
                )
                (tour / f"{language}-{size}-{visit.name}.png").write_bytes(shot)
                if docs:
                    save_small(shot, DOCS / f"{language}-{size}-{visit.name}.png", size, visit.map)
            for page in pages.values():
                page.context.close()
    assert not problems, "\n".join(problems)
