"""A resident asks for help the way people do: by voice alone, with a photo, with a mistake to
fix, or with the connection gone at the moment they press send."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from orders.models import Order
from tests.factories import ResidentProfileFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def photo_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 40)).save(out, format="JPEG")
    return out.getvalue()


def record_voice(page: Page) -> None:
    page.get_by_role("button", name="录音").click()
    expect(page.locator("#record-status")).to_contain_text("正在录音")
    page.wait_for_timeout(700)  # let the fake microphone fill a few buffers (not an assertion)
    page.get_by_role("button", name="录音").click()
    expect(page.locator("#record-status")).to_contain_text("语音已录好")


def test_a_voice_message_alone_is_a_request(open_as, categories, world, resident):
    page = open_as(resident, phone=True)
    page.goto("/orders/new")
    page.get_by_label("跑腿代购").check()
    record_voice(page)
    page.get_by_role("button", name="提交诉求").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+/$"))
    expect(page.locator("#order-status")).to_have_text("待受理")
    order = Order.objects.get(resident=resident)
    assert order.description == ""
    assert list(order.attachments.values_list("kind", flat=True)) == ["voice"]
    expect(page.locator("audio")).to_have_count(1)


def test_photo_recording_and_text_survive_a_mistake(open_as, categories, world):
    # Nothing on the profile: the request needs a location or a neighbourhood.
    newcomer = ResidentProfileFactory(user__username="newcomer", lat=None, lng=None).user
    page = open_as(newcomer, phone=True)
    page.goto("/orders/new")
    page.get_by_label("家居维修").check()
    page.get_by_label("请描述您的需求").fill("The kitchen tap drips all night")
    page.locator("#photo").set_input_files({"name": "tap.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes()})
    expect(page.locator("#photo-preview")).to_be_visible()  # the resident sees which photo they chose
    record_voice(page)
    page.get_by_role("button", name="提交诉求").click()

    grid = page.get_by_label("所在网格")
    expect(page.locator(".error", has_text="请共享位置或选择所在网格")).to_be_visible()
    expect(grid).to_be_focused()  # the field to fix has the focus
    expect(page.get_by_label("请描述您的需求")).to_have_value("The kitchen tap drips all night")
    assert page.evaluate("document.getElementById('photo').files.length") == 1
    assert page.evaluate("document.getElementById('voice').files.length") == 1
    expect(page.locator("#photo-preview")).to_be_visible()

    grid.select_option(label="North grid")
    page.get_by_role("button", name="提交诉求").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+/$"))
    order = Order.objects.get(resident=newcomer)
    assert sorted(order.attachments.values_list("kind", flat=True)) == ["photo", "voice"]
    assert order.description == "The kitchen tap drips all night"


def test_a_request_sent_offline_is_kept_and_sent_once_back_online(open_as, categories, world, resident):
    page = open_as(resident, phone=True)
    page.goto("/orders/new")
    page.get_by_label("跑腿代购").check()
    page.get_by_label("请描述您的需求").fill("Two bags of rice from the corner shop")

    page.context.set_offline(True)
    page.get_by_role("button", name="提交诉求").click()
    expect(page.locator("#outbox-note")).to_contain_text("已保存在本机")
    expect(page.get_by_label("请描述您的需求")).to_have_value("Two bags of rice from the corner shop")
    assert not Order.objects.filter(resident=resident).exists()

    page.context.set_offline(False)
    expect(page).to_have_url(re.compile(r"/orders/\d+/$"))
    expect(page.locator(".description")).to_have_text("Two bags of rice from the corner shop")
    # Sent once, whatever sends it again (another tab coming back online, a lost answer).
    page.goto("/orders/")
    page.evaluate("window.dispatchEvent(new Event('online'))")
    assert Order.objects.filter(resident=resident).count() == 1


def test_a_long_text_shows_how_much_room_is_left(open_as, categories, world, resident):
    page = open_as(resident, phone=True)
    page.goto("/orders/new")
    page.get_by_label("请描述您的需求").fill("x" * 1990)
    expect(page.locator("#description-counter")).to_contain_text("1990 / 2000")
    page.get_by_label("请描述您的需求").press_sequentially("y" * 15)
    expect(page.locator("#description-counter")).to_contain_text("已达到 2000 字的上限")


def test_an_empty_request_focuses_what_is_missing(open_as, categories, world, resident):
    page = open_as(resident, phone=True)
    page.goto("/orders/new")
    page.get_by_role("button", name="提交诉求").click()
    expect(page.locator('input[name="category"]').first).to_be_focused()
    assert not Order.objects.filter(resident=resident).exists()


def test_the_record_button_waits_for_its_script_on_a_slow_network(open_as, categories, world, resident):
    """A tap on "record" before the script has arrived would do nothing and say nothing: until
    the script is there the button is disabled, then it records."""
    page = open_as(resident, phone=True)
    held = []

    def hold(route):  # the script is held back, as on a slow network
        held.append(route)

    page.route("**/order-form.js*", hold)
    page.goto("/orders/call-me", wait_until="commit")
    expect(page.get_by_role("button", name="录音")).to_be_disabled()
    expect(page.locator("#locate")).to_have_count(0)  # call-me has no map; the form below does
    assert held, "the page did not ask for its script"
    held[0].continue_()
    expect(page.get_by_role("button", name="录音")).to_be_enabled()
    record_voice(page)
    page.unroute("**/order-form.js*", hold)
    page.goto("/orders/new")
    expect(page.get_by_role("button", name="录音")).to_be_enabled()
    expect(page.locator("#locate")).to_be_enabled()
