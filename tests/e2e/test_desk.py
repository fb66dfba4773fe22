"""The secretary's desk as it is used: dispatching to the top N with the keyboard, buttons that
say who gets the offer, who holds an offer and how long before it widens, new requests that
announce themselves, the most pressing first, and reasons in words."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from orders import services
from orders.models import Offer, Order
from tests.e2e.conftest import open_desk, post_form
from tests.factories import BASE_LAT, BASE_LNG, VolunteerFactory
from timers.services import timers_tick

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def volunteer3(world):
    return VolunteerFactory(user__username="volunteer3", branches=[world.north_branch], base_lat=BASE_LAT - 0.003).user


def accepted(resident, secretary, text: str, urgency: str = "normal") -> Order:
    order, _ = services.order_submit(
        resident=resident, data=services.OrderInput(category="errands", description=text, urgency=urgency)
    )
    return services.order_accept(order_id=order.pk, user=secretary)


def test_enter_in_the_top_n_field_offers_to_the_top_n(
    open_as, categories, world, resident, secretary, volunteer, volunteer2, volunteer3
):
    order = accepted(resident, secretary, "Carry a sofa downstairs")
    desk = open_as(secretary)
    desk.goto(f"/orders/{order.pk}/")
    # Every button says exactly who gets the offer.
    row = desk.locator("#candidates tr", has_text="volunteer2")
    expect(row.get_by_role("button")).to_have_text("只派给 volunteer2")
    expect(desk.locator("#pool-ticked")).to_be_disabled()
    row.get_by_role("checkbox").check()
    expect(desk.locator("#pool-ticked")).to_have_text("派给勾选的 1 名志愿者")
    top = desk.get_by_label("排名靠前的人数")
    top.fill("2")
    expect(desk.locator("#pool-top-send")).to_have_text("同时派给排名前 2 的志愿者（先接先得）")

    top.fill("3")
    top.press("Enter")
    expect(desk.locator("#order-status")).to_have_text("正在派单")
    offers = Offer.objects.filter(order=order)
    assert offers.count() == 3 and {o.mode for o in offers} == {"pool"}
    assert Order.objects.get(pk=order.pk).dispatch_mode == "pool"


def test_the_desk_sees_who_holds_the_offer_and_when_it_widens(
    open_as, categories, world, resident, secretary, volunteer, volunteer2, volunteer3
):
    world.north_branch.sla = {"offer": 7}  # the branch's own offer period, as the timers read it
    world.north_branch.save()
    order = accepted(resident, secretary, "Fetch a prescription")
    desk = open_as(secretary)
    desk.goto(f"/orders/{order.pk}/")
    desk.get_by_label("排名靠前的人数").fill("2")
    desk.get_by_label("排名靠前的人数").press("Enter")
    expect(desk.locator("#order-status")).to_have_text("正在派单")
    offered = list(Offer.objects.filter(order=order).select_related("volunteer__user"))
    first, second = (o.volunteer.user for o in offered)

    listing = desk.locator("#offer-list")

    def offer_of(user):
        return listing.locator(".offer-row").filter(has=desk.locator(".offer-name", has_text=re.compile(f"^{user}$")))

    expect(listing.locator(".offer-row")).to_have_count(2)
    expect(listing).to_contain_text("等待答复")
    expect(desk.locator("#offer-widens")).to_contain_text(re.compile(r"[67] 分钟后扩大派单范围"))

    # One of them says no, from their phone: the desk sees it without reloading.
    post_form(open_desk(open_as, second), f"/orders/{order.pk}/decline", {})
    expect(offer_of(second)).to_contain_text("已婉拒")
    expect(offer_of(first)).to_contain_text("等待答复")

    # The board says the same in a line.
    board = open_as(secretary)
    board.goto("/desk/")
    expect(board.locator(f'#board tr[data-order="{order.pk}"]')).to_contain_text("已派给 2 人 · 1 人待答复 · 1 人婉拒")

    # Nobody answers in time: the timers widen the offer, and the lapsed one is named.
    timers_tick(now=timezone.now() + timedelta(minutes=8), worker="e2e")
    desk.reload()
    expect(offer_of(first)).to_contain_text("已失效")


def test_a_new_request_announces_itself_and_the_most_pressing_come_first(
    open_as, categories, world, resident, secretary, volunteer
):
    old = services.order_submit(resident=resident, data=services.OrderInput(category="errands", description="Old"))[0]
    urgent = services.order_submit(
        resident=resident, data=services.OrderInput(category="errands", description="Urgent", urgency="urgent")
    )[0]
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    desk = open_as(
        secretary,
        init_script="""
          window.__sounds = 0;
          var Real = window.AudioContext;
          window.AudioContext = function () {
            var c = new Real(); var make = c.createOscillator.bind(c);
            c.createOscillator = function () { window.__sounds += 1; return make(); };
            return c;
          };""",
    )
    desk.goto("/desk/")
    rows = desk.locator("#queue tr[data-order]")
    expect(rows).to_have_count(2)
    assert [rows.nth(i).get_attribute("data-order") for i in range(2)] == [str(urgent.pk), str(old.pk)]
    expect(desk).to_have_title(re.compile(r"^工作台"))
    desk.get_by_label("新诉求提示音").check()
    expect(desk.locator("#live-status")).to_have_attribute("data-state", "on")
    before = desk.evaluate("window.__sounds")

    # A resident asks for help while the desk is open.
    home = open_desk(open_as, resident)
    token = next(c["value"] for c in home.context.cookies() if c["name"] == "csrftoken")
    answer = home.request.post(
        "/api/v1/orders",
        data=json.dumps({"category": "errands", "description": "Just arrived", "lat": BASE_LAT, "lng": BASE_LNG}),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert answer.status == 201, answer.text()
    fresh = answer.json()["id"]

    row = desk.locator(f'#queue tr[data-order="{fresh}"]')
    expect(row).to_have_class(re.compile(r"\bis-new\b"))
    expect(row).to_contain_text("新")
    expect(desk).to_have_title(re.compile(r"^\(1\) 工作台"))
    assert desk.evaluate("window.__sounds") > before
    desk.get_by_role("button", name="标为已读").click()
    expect(desk).to_have_title(re.compile(r"^工作台"))
    expect(row).not_to_have_class(re.compile(r"\bis-new\b"))


def test_reasons_are_words_with_the_number_on_hover(open_as, categories, world, resident, secretary, volunteer):
    order = accepted(resident, secretary, "Change a light bulb")
    desk = open_as(secretary)
    desk.goto(f"/orders/{order.pk}/")
    reasons = desk.locator("#candidates tr", has_text=str(volunteer)).locator(".reason:not(.scope)")
    expect(reasons.first).to_be_visible()
    texts = reasons.all_inner_texts()
    assert any(t.startswith("相距") and t.endswith("米") for t in texts), texts
    assert "目前空闲" in texts and "近 30 天未接单" in texts, texts
    assert not any(re.fullmatch(r"[\w ]*\d\.\d\d", t) for t in texts), texts  # no raw scores on the face
    titles = [reasons.nth(i).get_attribute("title") for i in range(reasons.count())]
    assert all(re.search(r": \+\d+\.\d\d$", t or "") for t in titles), titles
