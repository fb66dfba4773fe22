"""An intake elders can use, in a real browser: large type that doubles the type and the tap
targets and follows the person to another phone; "call me back" with a tap or a voice note,
which the desk sees first and marked; and every resident page usable with a screen reader,
checked with axe-core (tests/e2e/vendor/axe.min.js, injected by the test, never by the app).

With SANDAN_DOCS_SCREENSHOTS=1 the screenshots are also written to docs/pages/."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from orders import services
from orders.models import Attachment, Order
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_page_tour import DOCS, save_small
from tests.e2e.test_small_fixes import submit, to_state
from tests.factories import ResidentProfileFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
LANGUAGES = {"zh-Hans": "zh-CN", "en": "en-GB"}
SIZES = {"phone": PHONE, "desk": DESKTOP}


def shot(page: Page, screenshots: Path, name: str, size: str) -> None:
    height = min(page.evaluate("document.scrollingElement.scrollHeight"), 2200 if size == "phone" else 1500)
    png = page.screenshot(clip={"x": 0, "y": 0, "width": SIZES[size]["width"], "height": height}, full_page=True)
    (screenshots / name).write_bytes(png)
    if os.environ.get("SANDAN_DOCS_SCREENSHOTS") == "1":
        save_small(png, DOCS / name, size)


def serious_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.x A/AA rules on the page as it is; the serious and critical ones."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """tags => axe.run(document, { runOnly: { type: "tag", values: tags } })""",
        ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    )
    assert len(result["passes"]) > 10, "axe-core did not check the page"
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_resident_page_passes_axe_at_both_sizes_in_both_languages(
    open_as, categories, world, resident, secretary, volunteer
):
    done = to_state(
        submit(resident, "Fetch my medicine", contact_phone="13900001111"), "completed", secretary, volunteer
    )
    waiting = submit(resident, "Please call me back.", kind="callback")
    # Issue 17's resident pages too: a neighbour's request they follow ("this is mine too"),
    # and their own request merged into it by the desk.
    neighbour = ResidentProfileFactory(user__username="neighbour", grid=world.north).user
    theirs = submit(neighbour, "The stair light is out")
    services.order_follow(order_id=theirs.pk, user=resident)
    merged = submit(resident, "Stair light broken")
    services.order_merge(order_id=merged.pk, user=secretary, into=theirs.pk)
    paths = ["/orders/", "/orders/new", "/orders/call-me", f"/orders/{done.pk}/", f"/orders/{waiting.pk}/"]
    paths += [f"/orders/{theirs.pk}/", f"/orders/{merged.pk}/"]
    problems = []
    for large in (False, True):
        resident.large_type = large
        resident.save(update_fields=["large_type"])
        for _language, locale in LANGUAGES.items():
            for size, viewport in SIZES.items():
                page = open_as(resident, viewport=viewport, phone=size == "phone", locale=locale)
                for path in paths:
                    page.goto(path)
                    page.wait_for_load_state("networkidle")
                    problems += [f"{locale} {size} large={large} {path}: {v}" for v in serious_violations(page)]
                page.context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("lang", "locale"), list(LANGUAGES.items()))
def test_large_type_doubles_type_and_targets_and_follows_the_person(
    open_as, categories, world, resident, secretary, volunteer, screenshots, lang, locale
):
    to_state(submit(resident, "Fetch my medicine"), "completed", secretary, volunteer)
    page = open_as(resident, phone=True, locale=locale)
    page.goto("/orders/")
    button = page.locator("a.button", has_text="Call me back" if lang == "en" else "请给我回电话")
    small_font = float(page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)"))
    small_height = button.bounding_box()["height"]
    switch = page.locator(".large-type-switch button")
    expect(switch).to_have_attribute("aria-pressed", "false")
    switch.click()
    expect(page.locator("html")).to_have_class("large-type")
    expect(page.locator(".large-type-switch button")).to_have_attribute("aria-pressed", "true")
    # The page after the switch may still be loading its stylesheet: wait for the size it sets.
    expect(page.locator("html")).to_have_css("font-size", f"{2 * small_font:g}px")
    assert button.bounding_box()["height"] >= 2 * small_height - 1
    wide = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert wide <= 1, f"{wide} px wider than the phone"
    for size in SIZES:
        page.set_viewport_size(SIZES[size])
        shot(page, screenshots, f"{lang}-{size}-my-requests-large-type.png", size)
    page.goto("/orders/call-me")
    # Twelve categories in large type cannot fit a phone's screen: the big button stays on it,
    # at the top of the page and at its end, and a category is still one tap.
    page.set_viewport_size(SIZES["phone"])
    call = page.locator(".call-me-button")
    height = SIZES["phone"]["height"]
    for where in ("0", "document.scrollingElement.scrollHeight"):
        page.evaluate(f"window.scrollTo(0, {where})")
        box = call.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= height, f"the button is off the screen: {box}"
        assert box["height"] >= 2 * 48
    tile = page.locator(".call-me .choice").nth(6)
    tile.scroll_into_view_if_needed()
    tile.click()
    expect(tile.locator("input")).to_be_checked()
    tile_box = tile.bounding_box()
    assert tile_box and tile_box["height"] >= 88
    for size in SIZES:
        page.set_viewport_size(SIZES[size])
        shot(page, screenshots, f"{lang}-{size}-call-me-back-large-type.png", size)

    # Another phone, the same person: large type there too, until they switch it off.
    other = open_as(resident, phone=True, locale=locale)
    other.goto("/orders/new")
    expect(other.locator("html")).to_have_class("large-type")
    radio = other.locator("input[name=category]").first.bounding_box()
    assert radio and radio["height"] >= 44
    other.locator(".large-type-switch button").click()
    expect(other.locator("html")).not_to_have_class("large-type")
    resident.refresh_from_db()
    assert resident.large_type is False


def test_call_me_back_with_a_voice_note_reaches_the_desk_first(
    open_as, categories, world, resident, secretary, volunteer, screenshots
):
    urgent = submit(resident, "Burst pipe", urgency="urgent")
    page = open_as(resident, phone=True, locale="zh-CN")
    page.goto("/orders/")
    page.get_by_role("link", name="请给我回电话").click()
    expect(page).to_have_url(re.compile(r"/orders/call-me$"))
    # One screen: what it is about, a recording if they like, the big button. Nothing to type.
    assert page.locator("textarea, input[type=text]").count() == 0
    page.get_by_label("养老陪伴").check()
    page.get_by_role("button", name="录音").click()
    expect(page.locator("#record-status")).not_to_be_empty()
    page.wait_for_timeout(1200)  # speak for a moment (Chromium's fake microphone)
    page.get_by_role("button", name="录音").click()
    expect(page.locator("#voice-preview")).to_be_visible()
    page.get_by_role("button", name="请给我打电话").click()
    page.wait_for_url("**/orders/*/")
    order = Order.objects.get(kind="callback")
    assert order.category.code == "elderly" and order.contact_phone == resident.resident.phone
    assert Attachment.objects.filter(order=order, kind="voice").count() == 1
    expect(page.locator(".callback-badge").first).to_be_visible()
    expect(page.locator(".callback-line")).to_contain_text("我们很快会打给您")

    desk = open_as(secretary, locale="zh-CN")
    desk.goto("/desk/")
    rows = desk.locator("#queue-table tbody tr")
    expect(rows.first).to_have_attribute("data-order", str(order.pk))
    expect(rows.first.locator(".callback-badge")).to_have_text("待回电")
    expect(rows.first.locator('a[href^="tel:"]')).to_have_text(order.contact_phone)
    expect(rows.nth(1)).to_have_attribute("data-order", str(urgent.pk))
    for lang, locale in LANGUAGES.items():
        for size, viewport in SIZES.items():
            view = open_as(secretary, viewport=viewport, phone=size == "phone", locale=locale)
            view.goto("/desk/")
            expect(view.locator("#queue-table tbody tr").first.locator(".callback-badge")).to_be_visible()
            shot(view, screenshots, f"{lang}-{size}-desk-call-back-first.png", size)
            view.context.close()
    # Once the desk has called and accepted it, it is an ordinary order in flight.
    services.order_accept(order_id=order.pk, user=secretary)
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    services.order_claim(order_id=order.pk, user=volunteer)
    services.order_start(order_id=order.pk, user=volunteer)
    services.order_complete(order_id=order.pk, user=volunteer, note="Called and visited", hours=Decimal("1"))
    assert Order.objects.get(pk=order.pk).status == "completed"
