"""The pages keep working when the live connection does not: without the WebSocket they poll,
and the volunteer app opens offline from its service worker's shell."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from orders import services

# serialized_rollback: the flush after each test leaves the database as the migrations made it
# (seeded categories, content types with their first ids) for whichever test comes next.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_without_the_websocket_the_timeline_still_updates_by_polling(
    open_as, categories, world, resident, secretary, screenshots
):
    order, _ = services.order_submit(
        resident=resident, data=services.OrderInput(category="repair", description="Door lock is stuck")
    )
    page = open_as(resident)
    refused = []

    def refuse(ws) -> None:
        refused.append(ws.url)
        ws.close(code=1011)

    page.route_web_socket("**/ws/", refuse)
    page.goto(f"/orders/{order.pk}/")
    page.evaluate("window.__stillTheSamePage = true")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "off")
    expect(page.locator("#live-status")).to_contain_text("离线")  # the person is told

    services.order_accept(order_id=order.pk, user=secretary)

    expect(page.locator("#order-status")).to_have_text("支部已受理")
    expect(page.locator("#timeline")).to_contain_text("已受理")
    assert page.evaluate("window.__stillTheSamePage === true")
    assert refused, "the page did try the WebSocket first"


def test_volunteer_app_installs_and_opens_offline(browser, server, categories, world, volunteer):
    from tests.e2e.conftest import PHONE, session_cookie

    context = browser.new_context(base_url=server.url, viewport=PHONE, is_mobile=True, locale="zh-CN")
    try:
        context.add_cookies([session_cookie(volunteer, server.url)])
        page = context.new_page()
        page.goto("/volunteer/")
        manifest = page.locator("link[rel=manifest]").get_attribute("href")
        assert page.request.get(server.url + manifest).json()["start_url"] == "/"  # routes by role
        # Wait until the worker controls the page and has cached the shell.
        page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=15_000)
        page.reload()  # a controlled navigation puts the volunteer page itself in the cache
        expect(page.locator("#duty-switch")).to_be_visible()

        context.set_offline(True)
        page.goto("/volunteer/")
        expect(page.locator("#duty-switch")).to_be_visible()  # the cached shell, not the browser's error page
        page.goto("/")  # the installed app's start: the person's own page, from the cache
        expect(page.locator("#duty-switch")).to_be_visible()
        page.goto("/volunteer/hours")
        expect(page.get_by_role("heading", name="您已离线")).to_be_visible()
    finally:
        context.close()
