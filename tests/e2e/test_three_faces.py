"""Resident, secretary and volunteer play one order from placement to rating, each in their
own browser, each seeing the others' moves appear without reloading; then two volunteers
tap "take it" at the same moment and exactly one gets the order; a secretary dispatches a
batch and community staff follow it in English."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from orders import services
from orders.models import Order
from tests.e2e.conftest import SMALL_PHONE
from tests.factories import BASE_LAT, BASE_LNG

# serialized_rollback: the flush after each test leaves the database as the migrations made it
# (seeded categories, content types with their first ids) for whichever test comes next.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NO_RELOAD = "window.__stillTheSamePage = true"
STILL_SAME_PAGE = "window.__stillTheSamePage === true"


def mark_loaded(page: Page) -> None:
    """A flag that only survives as long as the page is not reloaded or left."""
    page.evaluate(NO_RELOAD)


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate(STILL_SAME_PAGE), "the page was reloaded"


def test_one_order_from_placement_to_rating(open_as, categories, world, secretary, volunteer, screenshots):
    desk = open_as(secretary)
    phone = open_as(volunteer, phone=True, geolocation={"latitude": BASE_LAT + 0.001, "longitude": BASE_LNG})
    resident = open_as(phone=True, viewport=SMALL_PHONE, geolocation={"latitude": BASE_LAT, "longitude": BASE_LNG})

    # The secretary's desk and the volunteer's phone are open and wait.
    desk.goto("/desk/")
    expect(desk.locator("#queue")).to_contain_text("没有待受理的诉求")
    mark_loaded(desk)
    phone.goto("/volunteer/")
    expect(phone.locator("#duty-switch")).to_have_attribute("aria-checked", "true")
    expect(phone.locator("#duty-note")).to_contain_text("正在共享您的位置")  # on duty: the phone shares where it is
    mark_loaded(phone)

    # A new resident signs up with the styled allauth form (Chinese by default).
    resident.goto("/accounts/signup/")
    expect(resident.get_by_role("heading", name="注册账号")).to_be_visible()
    resident.get_by_label("用户名").fill("wang-ayi")
    resident.get_by_label("密码", exact=True).fill("Sandan-e2e-pass-1")
    resident.get_by_label("再次输入密码").fill("Sandan-e2e-pass-1")
    resident.get_by_role("button", name="注册").click()
    expect(resident).to_have_url(re.compile(r"/orders/$"))
    resident.screenshot(path=screenshots / "resident-home.png", full_page=True)

    # …and asks for help: category, words, location from the device, a recorded voice note.
    resident.get_by_role("link", name="我要点单").click()
    resident.get_by_label("跑腿代购").check()  # the Simplified name, in the Simplified interface
    resident.get_by_label("请描述您的需求").fill("Please buy rice and <b>eggs</b> for me")
    resident.get_by_role("button", name="使用我当前的位置").click()
    expect(resident.locator("#locate-status")).to_contain_text("已共享位置")
    resident.get_by_label("地址").fill("5 Plum Lane, Flat 2")
    resident.get_by_label("联系电话").fill("13900001111")
    resident.get_by_role("button", name="录音").click()
    expect(resident.locator("#record-status")).to_contain_text("正在录音")
    resident.wait_for_timeout(700)  # let the fake microphone fill a few buffers (not an assertion)
    resident.get_by_role("button", name="录音").click()
    expect(resident.locator("#record-status")).to_contain_text("语音已录好")
    resident.screenshot(path=screenshots / "resident-new-request.png", full_page=True)
    with resident.expect_websocket() as socket:
        resident.get_by_role("button", name="提交诉求").click()
    # The new page's socket resumes from the last event this browser saw.
    assert re.search(r"/ws/\?after=\d+$", socket.value.url), socket.value.url
    expect(resident.locator("#order-status")).to_have_text("待受理")
    order = Order.objects.get(resident__username="wang-ayi")
    assert order.branch == world.north_branch
    assert sorted(order.attachments.values_list("kind", flat=True)) == ["voice"]
    # User text is shown as text.
    expect(resident.locator(".description")).to_have_text("Please buy rice and <b>eggs</b> for me")
    expect(resident.locator("audio")).to_have_count(1)
    mark_loaded(resident)

    # The desk sees it arrive, with its age, without reloading.
    row = desk.locator(f'#queue tr[data-order="{order.pk}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("分钟")
    assert_not_reloaded(desk)
    desk.screenshot(path=screenshots / "secretary-desk.png", full_page=True)

    # The secretary accepts; the resident's page follows.
    desk.goto(f"/orders/{order.pk}/")
    desk.get_by_role("button", name="受理").click()
    expect(desk.locator("#order-status")).to_have_text("支部已受理")
    expect(resident.locator("#order-status")).to_have_text("支部已受理")

    # Ranked candidates with reasons; dispatch directly to our volunteer.
    candidates = desk.locator("#candidates")
    expect(candidates).to_contain_text(str(volunteer))
    expect(candidates).to_contain_text("相距")  # each rank carries its reasons, in words
    desk.screenshot(path=screenshots / "secretary-order.png", full_page=True)
    candidates.locator("tr", has_text=str(volunteer)).get_by_role("button", name=f"只派给 {volunteer}").click()
    expect(desk.locator("#order-status")).to_have_text("正在派单")
    mark_loaded(desk)

    # The offer reaches the phone live, without the address; one tap takes it.
    offer = phone.locator(f'#offers li[data-order="{order.pk}"]')
    expect(offer).to_be_visible()
    expect(offer).not_to_contain_text("Plum Lane")
    phone.screenshot(path=screenshots / "volunteer-offer.png", full_page=True)
    offer.get_by_role("button", name="接单").click()
    expect(phone.locator("#claim-feedback")).to_contain_text("接单成功")
    task = phone.locator(f'#tasks li[data-order="{order.pk}"]')
    expect(task).to_contain_text("5 Plum Lane, Flat 2")
    expect(task.get_by_role("link", name="在地图应用中打开")).to_have_attribute("href", re.compile(r"^geo:31\.23"))
    assert_not_reloaded(phone)
    expect(resident.locator("#order-status")).to_have_text("志愿者已接单")
    expect(desk.locator("#order-status")).to_have_text("志愿者已接单")

    # Start, then complete with a note and hours.
    task.get_by_role("button", name="开始服务").click()
    expect(resident.locator("#order-status")).to_have_text("服务中")
    task = phone.locator(f'#tasks li[data-order="{order.pk}"]')
    task.get_by_label("做了什么？").fill("Bought rice and eggs")
    task.get_by_label("服务时长（小时）").fill("1.5")
    phone.screenshot(path=screenshots / "volunteer-task.png", full_page=True)
    task.get_by_role("button", name="完成").click()
    expect(phone.locator("#tasks")).to_contain_text("暂无任务")
    expect(resident.locator("#order-status")).to_have_text("已完成，请确认")
    expect(desk.locator("#order-status")).to_have_text("已完成，请确认")
    expect(resident.locator("#timeline")).to_contain_text("Bought rice and eggs")
    assert_not_reloaded(resident)
    assert_not_reloaded(desk)

    # The resident confirms and rates; the desk sees the order closed.
    # Rated with the keyboard: the stars are real radio buttons.
    resident.locator("#rate-4").focus()
    resident.keyboard.press("Space")
    resident.keyboard.press("ArrowLeft")  # the next star up in the group (they are laid out 5 → 1)
    expect(resident.locator("#rate-5")).to_be_checked()
    resident.get_by_label("留言（可选）").fill("Very kind, thank you")
    resident.screenshot(path=screenshots / "resident-order.png", full_page=True)
    resident.get_by_role("button", name="确认并评价").click()
    expect(resident.locator("#order-status")).to_have_text("已办结")
    expect(desk.locator("#order-status")).to_have_text("已办结")
    expect(desk.locator("#timeline")).to_contain_text("Very kind, thank you")
    assert_not_reloaded(desk)

    order.refresh_from_db()
    assert order.status == "closed" and str(order.hours) == "1.50"
    volunteer.volunteer.refresh_from_db()  # the location the phone sent long before
    assert volunteer.volunteer.live_lat == pytest.approx(BASE_LAT + 0.001)
    assert order.ratings.get().rating == 5

    phone.goto("/volunteer/hours")
    expect(phone.locator("#hours-total")).to_have_text("1.5")
    expect(phone.locator("#timebank-balance")).to_have_text(re.compile(r"^1\.50?$"))  # credited on close
    phone.goto("/volunteer/")
    phone.screenshot(path=screenshots / "volunteer-home.png", full_page=True)
    desk.goto("/desk/")
    desk.screenshot(path=screenshots / "secretary-board.png", full_page=True)


def test_two_volunteers_tap_at_once_and_exactly_one_wins(
    open_as, categories, world, resident, secretary, volunteer, volunteer2, screenshots
):
    order, _ = services.order_submit(
        resident=resident, data=services.OrderInput(category="errands", description="Carry a parcel")
    )
    services.order_accept(order_id=order.pk, user=secretary)
    services.order_dispatch(order_id=order.pk, user=secretary, mode="pool", top=5)

    phones = {
        volunteer.username: open_as(volunteer, phone=True),
        volunteer2.username: open_as(volunteer2, phone=True),
    }
    for page in phones.values():
        page.goto("/volunteer/")
        expect(page.locator(f'#offers li[data-order="{order.pk}"] button', has_text="接单")).to_be_visible()

    # Both taps go out before either answer comes back.
    selector = f'#offers li[data-order="{order.pk}"] form.js-claim button'
    for page in phones.values():
        page.evaluate("(s) => document.querySelector(s).click()", selector)

    for page in phones.values():
        expect(page.locator("#claim-feedback")).to_be_visible()
    told = {name: page.locator("#claim-feedback").inner_text() for name, page in phones.items()}
    winners = [name for name, text in told.items() if "接单成功" in text]
    losers = [name for name, text in told.items() if "慢了一步" in text]
    assert len(winners) == 1 and len(losers) == 1, told

    order.refresh_from_db()
    assert order.status == "claimed" and order.volunteer.user.username == winners[0]
    # The loser's offer is gone from their feed; the winner has the task with the address.
    expect(phones[losers[0]].locator(f'#offers li[data-order="{order.pk}"]')).to_have_count(0)
    expect(phones[winners[0]].locator(f'#tasks li[data-order="{order.pk}"]')).to_contain_text(order.address)
    phones[losers[0]].screenshot(path=screenshots / "volunteer-someone-was-faster.png", full_page=True)


def test_batch_dispatch_from_the_desk_and_the_staff_view_in_english(
    open_as, categories, world, resident, secretary, staff, volunteer, volunteer2, screenshots
):
    orders = []
    for text in ("Fix a shelf", "Read the post"):
        data = services.OrderInput(category="errands", description=text)
        order, _ = services.order_submit(resident=resident, data=data)
        services.order_accept(order_id=order.pk, user=secretary)
        orders.append(order)

    desk = open_as(secretary)
    desk.goto("/desk/")
    for order in orders:
        desk.locator(f'#board tr[data-order="{order.pk}"] input.batch-pick').check()
    desk.get_by_role("button", name="生成分配方案").click()
    proposal = desk.locator("#batch-result li")
    expect(proposal).to_have_count(2)
    expect(desk.locator("#batch-result")).to_contain_text(str(volunteer))
    desk.screenshot(path=screenshots / "secretary-batch.png", full_page=True)
    desk.get_by_role("button", name="确认并派单").click()
    for order in orders:
        expect(desk.locator(f'#board tr[data-order="{order.pk}"] [data-status]')).to_have_text("正在派单")
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in orders])} == {"dispatched"}

    # Community staff oversee the branch's board; the page switches to English.
    board = open_as(staff)
    board.goto("/desk/")
    expect(board.get_by_role("heading", name="社区工作台")).to_be_visible()
    board.get_by_label("语言").select_option("en")
    expect(board.get_by_role("heading", name="Community desk")).to_be_visible()
    for order in orders:
        expect(board.locator(f'#board tr[data-order="{order.pk}"] [data-status]')).to_have_text(
            "Looking for a volunteer"
        )
    board.screenshot(path=screenshots / "staff-desk.png", full_page=True)
