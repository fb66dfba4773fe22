"""The smaller things people tripped over, each checked the way they met it."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from playwright.sync_api import Page, expect

from orders import services
from orders.attachments import order_attach
from orders.models import Order
from tests.e2e.conftest import SMALL_PHONE, open_desk, post_form
from volunteers.models import Volunteer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def jpeg(colour=(40, 120, 200)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, format="JPEG")
    return SimpleUploadedFile("p.jpg", out.getvalue(), content_type="image/jpeg")


def to_state(order: Order, state: str, secretary, volunteer, hours: str = "1") -> Order:
    steps = ["accepted", "dispatched", "claimed", "in_progress", "completed", "closed"]
    for step in steps[: steps.index(state) + 1]:
        if step == "accepted":
            services.order_accept(order_id=order.pk, user=secretary)
        elif step == "dispatched":
            services.order_dispatch(
                order_id=order.pk, user=secretary, mode="direct", volunteer=Volunteer.objects.get(user=volunteer).pk
            )
        elif step == "claimed":
            services.order_claim(order_id=order.pk, user=volunteer)
        elif step == "in_progress":
            services.order_start(order_id=order.pk, user=volunteer)
        elif step == "completed":
            services.order_complete(order_id=order.pk, user=volunteer, note="Done", hours=Decimal(hours))
        elif step == "closed":
            services.order_confirm(order_id=order.pk, user=order.resident, rating=5)
    return Order.objects.get(pk=order.pk)


def submit(resident, text="Help", **extra) -> Order:
    data = services.OrderInput(category="errands", description=text, **extra)
    return services.order_submit(resident=resident, data=data)[0]


def contrast(page: Page, selector: str) -> float:
    """WCAG contrast of an element's text colour against white."""
    rgb = page.eval_on_selector(selector, "el => getComputedStyle(el).color")
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", rgb)[:3])

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return 1.05 / (luminance + 0.05)


def test_after_a_claim_no_stale_banner_and_no_waiting_0_min(open_as, categories, world, resident, secretary, volunteer):
    page = open_as(resident, phone=True)
    page.goto("/orders/new")
    page.get_by_label("跑腿代购").check()
    page.get_by_label("请描述您的需求").fill("Post a letter")
    page.get_by_role("button", name="提交诉求").click()
    expect(page.locator("#flash")).to_contain_text("已提交给支部")
    expect(page.locator("#order-clock")).to_contain_text("已等待")
    order = Order.objects.get(resident=resident)
    services.order_accept(order_id=order.pk, user=secretary)
    desk = open_desk(open_as, secretary)
    post_form(desk, f"/orders/{order.pk}/dispatch", {"mode": "direct", "volunteer": str(volunteer.volunteer.pk)})
    post_form(open_desk(open_as, volunteer), f"/orders/{order.pk}/claim", {})

    expect(page.locator("#order-status")).to_have_text("志愿者已接单")
    expect(page.locator("#flash")).not_to_contain_text("已提交给支部")
    expect(page.locator("#order-clock")).to_have_count(0)


def test_hours_have_a_unit_and_the_category_cap_is_explained(
    open_as, categories, world, resident, secretary, volunteer
):
    order = to_state(submit(resident), "closed", secretary, volunteer, hours="4.5")  # errands credit at most 2 h
    phone = open_as(volunteer, phone=True)
    phone.goto("/volunteer/hours")
    row = phone.locator(f'#hours-table tr[data-order="{order.pk}"]')
    expect(row).to_contain_text("4.5 小时")
    expect(row).to_contain_text("2 小时")
    expect(row.locator(".cap-note")).to_have_text("跑腿代购每单最多记 2 小时")
    phone.goto(f"/orders/{order.pk}/")
    expect(phone.locator(".facts")).to_contain_text("4.5 小时")


def test_before_and_after_photos_are_labelled(open_as, categories, world, resident, secretary, volunteer):
    order = services.order_submit(
        resident=resident,
        data=services.OrderInput(category="errands", description="Broken gate"),
        attachments=[("photo", jpeg())],
    )[0]
    to_state(order, "in_progress", secretary, volunteer)
    order_attach(order_id=order.pk, user=volunteer, kind="photo", upload=jpeg((10, 200, 10)))
    page = open_as(resident, phone=True)
    page.goto(f"/orders/{order.pk}/")
    captions = page.locator(".attachments figcaption")
    expect(captions).to_have_text(["随诉求提交的照片（服务前）", "志愿者拍的照片（服务后）"])


def test_my_tasks_come_before_new_offers(open_as, categories, world, resident, secretary, volunteer):
    to_state(submit(resident, "Task"), "claimed", secretary, volunteer)
    to_state(submit(resident, "Offer"), "dispatched", secretary, volunteer)
    page = open_as(volunteer, phone=True)
    page.goto("/volunteer/")
    tasks = page.locator("#tasks").bounding_box()
    offers = page.locator("#offers").bounding_box()
    assert tasks and offers and tasks["y"] < offers["y"]


def test_a_note_being_typed_survives_a_live_change_to_the_task_list(
    open_as, categories, world, resident, secretary, volunteer
):
    first = to_state(submit(resident, "First"), "in_progress", secretary, volunteer)
    second = to_state(submit(resident, "Second"), "claimed", secretary, volunteer)
    page = open_as(volunteer, phone=True)
    page.goto("/volunteer/")
    task = page.locator(f'#tasks li[data-order="{first.pk}"]')
    task.get_by_label("做了什么？").fill("Carried the shopping up")
    task.get_by_label("服务时长（小时）").fill("2")
    task.get_by_label("做了什么？").focus()

    services.order_start(order_id=second.pk, user=volunteer)  # the list re-renders live
    expect(page.locator(f'#tasks li[data-order="{second.pk}"]').get_by_role("button", name="完成")).to_be_visible()
    task = page.locator(f'#tasks li[data-order="{first.pk}"]')
    expect(task.get_by_label("做了什么？")).to_have_value("Carried the shopping up")
    expect(task.get_by_label("服务时长（小时）")).to_have_value("2")
    expect(task.get_by_label("做了什么？")).to_be_focused()
    expect(page.locator(f'#tasks li[data-order="{second.pk}"]').get_by_label("做了什么？")).to_have_value("")


def test_the_claim_button_waits_for_the_connection(open_as, categories, world, resident, secretary, volunteer):
    order = to_state(submit(resident), "dispatched", secretary, volunteer)
    page = open_as(volunteer, phone=True)
    page.goto("/volunteer/")
    button = page.locator(f'#offers li[data-order="{order.pk}"] form.js-claim button')
    expect(button).to_be_enabled()
    page.context.set_offline(True)
    expect(button).to_be_disabled()
    expect(page.locator("#offline-note")).to_be_visible()
    page.context.set_offline(False)
    expect(button).to_be_enabled()
    expect(page.locator("#offline-note")).to_be_hidden()


def test_stars_are_readable_and_phone_links_are_big_enough(open_as, categories, world, resident, secretary, volunteer):
    order = to_state(submit(resident, contact_phone="13900001111"), "completed", secretary, volunteer)
    page = open_as(resident, phone=True)
    page.goto(f"/orders/{order.pk}/")
    assert contrast(page, ".stars label[for=rate-3]") >= 3.0  # a star not chosen, against white
    link = page.locator('a[href^="tel:"]').first
    box = link.bounding_box()
    assert box and box["height"] >= 44


def test_radio_circles_keep_their_size_when_a_label_wraps(open_as, categories, world, resident):
    page = open_as(resident, phone=True, viewport=SMALL_PHONE, locale="en-GB")
    page.goto("/orders/new")
    widths = {round(box["width"]) for box in (r.bounding_box() for r in page.locator('input[name="category"]').all())}
    assert widths == {22}


def test_english_reads_as_english_and_a_closed_order_is_not_waiting(
    open_as, categories, world, resident, secretary, volunteer
):
    order = to_state(submit(resident, urgency="high"), "closed", secretary, volunteer)
    page = open_as(resident, phone=True, locale="en-GB")
    page.goto(f"/orders/{order.pk}/")
    expect(page.locator("#order-status")).to_have_text("Closed")
    expect(page.locator(".facts")).to_contain_text("High")
    expect(page.locator(".status-line")).not_to_contain_text("waiting")
