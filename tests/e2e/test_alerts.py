"""A volunteer is alerted to offers: asked for notifications when going on duty, subscribed to
Web Push, a system notification from the service worker for a new offer and for a claim's
result, a sound and a vibration while the app is open, and a switch to turn each off."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from notifications.models import NotificationPreference, PushSubscription
from orders import services
from tests.e2e.conftest import open_desk, post_form
from tests.timers.test_delivery import Phone
from volunteers.models import Volunteer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Records what the page asks of the browser. The permission starts undecided, as on a new
# phone; the push service is stood in for (a headless browser cannot reach one), with a
# subscription whose keys are real so that the server accepts it.
RECORDER = """
window.__alerts = [];
(function () {
  var state = "default";
  Object.defineProperty(Notification, "permission", { get: function () { return state; }, configurable: true });
  Notification.requestPermission = function () {
    window.__alerts.push("permission"); state = "granted"; return Promise.resolve("granted");
  };
  var SUB = %(subscription)s;
  PushManager.prototype.getSubscription = function () { return Promise.resolve(null); };
  PushManager.prototype.subscribe = function (options) {
    window.__alerts.push("subscribe:" + new Uint8Array(options.applicationServerKey).length);
    return Promise.resolve({ endpoint: SUB.endpoint, toJSON: function () { return SUB; } });
  };
  document.addEventListener("sandan:event", function (e) { window.__alerts.push("event:" + e.detail.kind); });
  navigator.vibrate = function () { window.__alerts.push("vibrate"); return true; };
  var Real = window.AudioContext;
  window.AudioContext = function () {
    var context = new Real();
    var make = context.createOscillator.bind(context);
    context.createOscillator = function () { window.__alerts.push("sound"); return make(); };
    return context;
  };
})();
"""


def recorder(phone: Phone) -> str:
    return RECORDER % {"subscription": json.dumps(phone.subscription())}


def alerts(page: Page) -> list[str]:
    return page.evaluate("window.__alerts.slice()")


def eventually(page: Page, expression: str, until=bool, seconds: float = 15):
    """The value of an async page expression once `until` holds for it (the worker shows
    notifications in its own time); the last value otherwise."""
    value = None
    for _ in range(int(seconds * 10)):
        value = page.evaluate(expression)
        if until(value):
            break
        page.wait_for_timeout(100)
    return value


def offer_to(desk: Page, order_resident, secretary, volunteer, text: str):
    """The secretary dispatches from their own browser: the offer's live event then leaves the
    server the phone is connected to (as it would in production)."""
    order, _ = services.order_submit(
        resident=order_resident, data=services.OrderInput(category="errands", description=text)
    )
    services.order_accept(order_id=order.pk, user=secretary)
    volunteer_id = Volunteer.objects.get(user=volunteer).pk
    post_form(desk, f"/orders/{order.pk}/dispatch", {"mode": "direct", "volunteer": str(volunteer_id)})
    return order


def test_going_on_duty_asks_for_notifications_and_subscribes_the_phone_to_push(
    open_as, categories, world, resident, secretary, volunteer
):
    Volunteer.objects.filter(user=volunteer).update(on_duty=False)
    phone = Phone()
    page = open_as(
        volunteer, phone=True, service_worker=True, permissions=["notifications"], init_script=recorder(phone)
    )
    page.goto("/volunteer/")
    expect(page.get_by_role("switch", name="休息中")).to_be_visible()
    page.wait_for_timeout(300)  # whatever the page does on its own, it does not ask yet
    assert "permission" not in alerts(page)

    page.get_by_role("switch", name="休息中").click()
    expect(page.locator("#duty-switch")).to_have_attribute("aria-checked", "true")
    expect(page.locator("#alerts-status")).to_contain_text("有新单时会提醒您")
    page.wait_for_function("window.__alerts.some(a => a.indexOf('subscribe:') === 0)")
    assert alerts(page)[:2] == ["permission", "subscribe:65"]  # asked once, then subscribed with the VAPID key
    for _ in range(50):
        if PushSubscription.objects.filter(user=volunteer, endpoint=phone.endpoint).exists():
            break
        page.wait_for_timeout(100)
    assert PushSubscription.objects.filter(user=volunteer, endpoint=phone.endpoint).exists()
    assert Volunteer.objects.get(user=volunteer).on_duty

    # An offer arrives while the app is open: it sounds and vibrates.
    expect(page.locator("#live-status")).to_have_attribute("data-state", "on")
    order = offer_to(open_desk(open_as, secretary), resident, secretary, volunteer, "Carry the shopping upstairs")
    expect(page.locator(f'#offers li[data-order="{order.pk}"]')).to_be_visible()
    page.wait_for_function("window.__alerts.indexOf('event:offer.new') !== -1")
    assert {"vibrate", "sound"} <= set(alerts(page))


def test_a_push_becomes_a_system_notification_for_an_offer_and_for_a_claim(
    open_as, categories, world, resident, secretary, volunteer
):
    phone = Phone()
    page = open_as(
        volunteer, phone=True, service_worker=True, permissions=["notifications"], init_script=recorder(phone)
    )
    page.goto("/volunteer/")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    session = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    session.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    session.send("ServiceWorker.enable")
    eventually(page, "navigator.serviceWorker.ready.then(() => true)")
    for _ in range(30):
        if registrations:
            break
        page.wait_for_timeout(100)
    registration = next(r for r in registrations if not r["isDeleted"])
    # The volunteer is on another page of the app: the offer reaches them only as a push. Gone
    # there before the offer is made: a push right after the navigation could still find the
    # offers page on screen in the worker's eyes and go to it instead (seen once in CI).
    page.goto("/volunteer/hours")
    order = offer_to(open_desk(open_as, secretary), resident, secretary, volunteer, "Read a letter aloud")

    def push(payload: dict) -> None:
        session.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": page.url.split("/volunteer")[0],
                "registrationId": registration["registrationId"],
                "data": json.dumps(payload),
            },
        )

    push(
        {
            "title": "附近有新的求助：跑腿代购",
            "body": "",
            "kind": "offer.new",
            "order": order.pk,
            "url": "/volunteer/",
            "vibrate": True,
            "sound": True,
        }
    )
    shown = (
        "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => ("
        "{title: n.title, tag: n.tag, url: n.data && n.data.url, actions: n.actions.map(a => a.title)})))"
    )
    notes = eventually(page, shown)
    assert notes == [
        {"title": "附近有新的求助：跑腿代购", "tag": f"offer-{order.pk}", "url": "/volunteer/", "actions": ["接单"]}
    ]

    # The claim's result (the server pushes "the request is yours") takes the offer's place.
    services.order_claim(order_id=order.pk, user=volunteer)
    push(
        {
            "title": "这单归您了：跑腿代购",
            "body": "North grid",
            "kind": "order.assigned",
            "order": order.pk,
            "url": f"/orders/{order.pk}/",
            "vibrate": True,
            "sound": True,
        }
    )
    titles = {
        n["title"] for n in eventually(page, shown, until=lambda ns: any(n["tag"] == f"order-{order.pk}" for n in ns))
    }
    assert "这单归您了：跑腿代购" in titles


def test_each_alert_can_be_turned_off_and_stays_off(open_as, categories, world, resident, secretary, volunteer):
    phone = Phone()
    page = open_as(
        volunteer, phone=True, service_worker=True, permissions=["notifications"], init_script=recorder(phone)
    )
    page.goto("/volunteer/")
    expect(page.locator("#alerts")).to_have_attribute("open", "")  # on duty: the switches are in view
    page.get_by_role("switch", name="应用打开时播放提示音").uncheck()
    page.get_by_role("switch", name="振动").uncheck()
    for _ in range(50):
        prefs = NotificationPreference.objects.filter(user=volunteer).first()
        if prefs is not None and not prefs.sound and not prefs.vibrate:
            break
        page.wait_for_timeout(100)
    assert prefs is not None and (prefs.sound, prefs.vibrate, prefs.push) == (False, False, True)

    page.reload()
    expect(page.get_by_role("switch", name="应用打开时播放提示音")).not_to_be_checked()
    expect(page.get_by_role("switch", name="振动")).not_to_be_checked()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "on")
    order = offer_to(open_desk(open_as, secretary), resident, secretary, volunteer, "Water the plants")
    expect(page.locator(f'#offers li[data-order="{order.pk}"]')).to_be_visible()
    # The page's own handler runs right after the recorder's, in the same dispatch.
    page.wait_for_function("window.__alerts.indexOf('event:offer.new') !== -1")
    assert "sound" not in alerts(page) and "vibrate" not in alerts(page)
