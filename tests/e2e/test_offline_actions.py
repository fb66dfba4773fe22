"""A volunteer in a stairwell without signal taps "Start", then "Done" with a note, the hours
and a photo: the taps wait on the phone, shown as waiting, and go out once, in order, when the
signal is back. A tap that meets an order which moved on meanwhile is explained in words."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from orders import services
from orders.models import Attachment, IdempotencyKey, Order, OrderEvent
from tests.e2e.conftest import DESKTOP
from tests.e2e.test_page_tour import DOCS, save_small
from tests.e2e.test_small_fixes import jpeg, submit, to_state

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

QUEUED = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("sandan-actions", 1);
  open.onupgradeneeded = () => open.result.createObjectStore("queue", { keyPath: "key" });
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const request = open.result.transaction("queue").objectStore("queue").count();
    request.onsuccess = () => { open.result.close(); resolve(request.result); };
  };
})"""


def queued(page: Page) -> int:
    return page.evaluate(QUEUED)


def shot(page: Page, screenshots, name: str, size: str) -> None:
    """The page down to the task (the waiting taps' banner, the taps kept); with
    SANDAN_DOCS_SCREENSHOTS=1 also the small copy in docs/pages/."""
    width = page.viewport_size["width"] if page.viewport_size else 390
    height = min(page.evaluate("document.scrollingElement.scrollHeight"), 2200 if size == "phone" else 1500)
    png = page.screenshot(clip={"x": 0, "y": 0, "width": width, "height": height}, full_page=True)
    (screenshots / name).write_bytes(png)
    if os.environ.get("SANDAN_DOCS_SCREENSHOTS") == "1":
        save_small(png, DOCS / name, size)


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh-Hans"), ("en-GB", "en")])
def test_start_and_done_without_signal_are_sent_once_when_it_is_back(
    open_as, categories, world, resident, secretary, volunteer, screenshots, locale, lang
):
    order = to_state(submit(resident, "Carry the rice upstairs"), "claimed", secretary, volunteer)
    page = open_as(volunteer, phone=True, service_worker=True, locale=locale)
    page.goto("/volunteer/")
    # The page runs under the service worker, which carries the queue's sender too.
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    card = page.locator(f'#tasks li[data-order="{order.pk}"]')
    expect(card.locator("form[data-action=complete]")).to_be_hidden()

    page.context.set_offline(True)
    card.locator("form[data-action=start] button").click()
    expect(card.locator("form[data-action=start] .queued-note")).to_be_visible()
    expect(page.locator("#queue-status")).to_be_visible()
    # The work goes on without signal: "Done" is there at once, with its note, hours and photo.
    done = card.locator("form[data-action=complete]")
    expect(done).to_be_visible()
    done.locator("textarea[name=note]").fill("Carried two bags up to the 6th floor")
    done.locator("input[name=hours]").fill("1.5")
    photo = jpeg()
    done.locator("input[name=photo]").set_input_files(
        {"name": "after.jpg", "mimeType": "image/jpeg", "buffer": photo.read()}
    )
    done.locator("button[type=submit]").click()
    expect(done.locator(".queued-note")).to_be_visible()
    expect(done.locator("button[type=submit]")).to_be_disabled()
    assert queued(page) == 2
    assert Order.objects.get(pk=order.pk).status == "claimed"  # nothing reached the server
    shot(page, screenshots, f"{lang}-phone-offline-taps.png", "phone")
    page.set_viewport_size(DESKTOP)
    shot(page, screenshots, f"{lang}-desk-offline-taps.png", "desk")

    page.context.set_offline(False)
    sent = page.locator("#flash .flash-success")
    expect(sent).to_have_count(2)
    expect(page.locator("#queue-status")).to_be_hidden()
    expect(card).to_have_count(0)  # done: no longer among my tasks
    order.refresh_from_db()
    assert order.status == "completed"
    assert order.completion_note == "Carried two bags up to the 6th floor"
    assert order.hours == Decimal("1.5")
    assert [e.action for e in OrderEvent.objects.filter(order=order).order_by("at", "id")][-2:] == [
        "start",
        "complete",
    ]
    assert OrderEvent.objects.filter(order=order, action__in=["start", "complete"]).count() == 2
    assert Attachment.objects.filter(order=order, uploaded_by=volunteer, kind="photo").count() == 1
    assert IdempotencyKey.objects.filter(user=volunteer, order=order).count() == 2
    assert queued(page) == 0
    # Coming back to the page sends nothing more.
    page.reload()
    expect(page.locator("#queue-status")).to_be_hidden()
    assert OrderEvent.objects.filter(order=order, action="complete").count() == 1


def test_a_tap_on_an_order_recalled_meanwhile_is_explained(open_as, categories, world, resident, secretary, volunteer):
    order = to_state(submit(resident), "claimed", secretary, volunteer)
    page = open_as(volunteer, phone=True, locale="en-GB")
    page.goto("/volunteer/")
    card = page.locator(f'#tasks li[data-order="{order.pk}"]')
    page.context.set_offline(True)
    card.locator("form[data-action=start] button").click()
    expect(card.locator("form[data-action=start] .queued-note")).to_be_visible()
    # Meanwhile: not started in time, so released by the timers and, with nobody else to
    # offer it to, recalled to the desk.
    services.order_release_overdue(order_id=order.pk, minutes=1, at=timezone.now() + timedelta(minutes=5))
    if Order.objects.get(pk=order.pk).status == "dispatched":
        services.order_recall(order_id=order.pk, user=secretary)

    page.context.set_offline(False)
    refused = page.locator("#flash .flash-error")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text(f"“Start” for request #{order.pk} was not taken")
    expect(refused).to_contain_text("changed while you had no signal")
    assert "invalid_transition" not in refused.inner_text() and "not_found" not in refused.inner_text()
    assert Order.objects.get(pk=order.pk).status == "accepted"
    assert not OrderEvent.objects.filter(order=order, action="start").exists()
    assert queued(page) == 0  # said once, then dropped


def test_signing_out_deletes_the_taps_kept_on_the_phone(open_as, categories, world, resident, secretary, volunteer):
    order = to_state(submit(resident), "claimed", secretary, volunteer)
    page = open_as(volunteer, phone=True, locale="en-GB")
    page.goto("/volunteer/")
    # Online, but this one request meets no signal: the tap stays on the phone.
    page.route("**/start", lambda route: route.abort("internetdisconnected"))
    page.locator(f'#tasks li[data-order="{order.pk}"] form[data-action=start] button').click()
    expect(page.locator("#queue-status")).to_be_visible()
    assert queued(page) == 1
    # Still no signal for it while signing out: with the route lifted first, a retry racing the
    # click could send the tap before the sign-out cleared it (seen once in CI under load).
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/**")
    assert queued(page) == 0
    page.unroute("**/start")
    page.goto("/volunteer/")  # the signal back: nothing is left to go out
    page.wait_for_url("**/accounts/**")
    assert queued(page) == 0
    assert Order.objects.get(pk=order.pk).status == "claimed"


def test_with_signal_a_tap_goes_at_once_and_says_so(open_as, categories, world, resident, secretary, volunteer):
    order = to_state(submit(resident), "claimed", secretary, volunteer)
    page = open_as(volunteer, phone=True, locale="en-GB")
    page.goto("/volunteer/")
    page.locator(f'#tasks li[data-order="{order.pk}"] form[data-action=start] button').click()
    expect(page.locator("#flash .flash-success")).to_have_text("Started.")
    expect(page.locator(f'#tasks li[data-order="{order.pk}"] form[data-action=complete]')).to_be_visible()
    expect(page.locator("#queue-status")).to_be_hidden()
    assert Order.objects.get(pk=order.pk).status == "in_progress"
    assert queued(page) == 0
