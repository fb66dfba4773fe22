"""Finding one's way: the installed app starts on each person's own page, a wrong address is a
friendly page (never Django's debug list of URLs), one navigation on every page leads to the
statistics, the call-back reviews and the time bank, and each reader sees one script."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_installed_app_starts_on_each_persons_own_page(open_as, categories, world, resident, volunteer, staff):
    for person, landing in ((resident, r"/orders/$"), (volunteer, r"/volunteer/$"), (staff, r"/desk/$")):
        page = open_as(person, phone=True)
        page.goto("/volunteer/")  # any page: the manifest is the same everywhere
        manifest = page.request.get(page.locator("link[rel=manifest]").get_attribute("href")).json()
        page.goto(manifest["start_url"])
        expect(page).to_have_url(re.compile(landing))
        expect(page.locator("main h1, main .switch").first).to_be_visible()


def test_a_wrong_address_is_a_friendly_page_even_in_the_demo(open_as, categories, world, resident):
    page = open_as(resident, phone=True)
    for path in ("/volunteer/", "/no-such-page"):
        response = page.goto(path)
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", name="这里没有这个页面")).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("URLconf")  # Django's debug page lists every URL
        expect(page.get_by_role("navigation", name="主导航")).to_be_visible()
    page.get_by_role("link", name="回到我的首页").click()
    expect(page).to_have_url(re.compile(r"/orders/$"))


def test_one_navigation_leads_staff_everywhere_and_back(open_as, categories, world, staff):
    page = open_as(staff)
    page.goto("/desk/")
    nav = page.get_by_role("navigation", name="主导航")
    for name in ("工作台", "统计", "回访抽查", "爱心银行管理"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    nav.get_by_role("link", name="统计").click()
    expect(page).to_have_url(re.compile(r"/stats/"))
    expect(nav.get_by_role("link", name="统计")).to_have_attribute("aria-current", "page")
    # The statistics have the same way back, the language switch and sign-out.
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    page.wait_for_load_state()  # the switch sends itself from app.js, which runs once the page has loaded
    page.get_by_label("语言").select_option("en")
    expect(page).to_have_url(re.compile(r"/stats/"))
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Call-back reviews")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Time bank desk").click()
    expect(page.get_by_role("heading", name="Time bank desk")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Desk", exact=True).click()
    expect(page).to_have_url(re.compile(r"/desk/$"))


def test_each_reader_sees_one_script(open_as, categories, world, resident):
    simplified = open_as(resident, phone=True)
    simplified.goto("/orders/new")
    expect(simplified.get_by_label("跑腿代购")).to_be_visible()
    text = simplified.locator("main").inner_text()
    for traditional in ("跑腿代購", "政策法規宣傳", "家居維修"):
        assert traditional not in text

    traditional = open_as(resident, phone=True, locale="zh-TW")
    traditional.goto("/orders/new")
    expect(traditional.get_by_role("heading", name="我要點單")).to_be_visible()
    expect(traditional.get_by_label("跑腿代購")).to_be_visible()
    text = traditional.locator("main").inner_text()
    for simplified_only in ("跑腿代购", "政策法规宣传", "诉求"):
        assert simplified_only not in text
    expect(traditional.get_by_label("語言")).to_have_value("zh-hant")

    english = open_as(resident, phone=True, locale="en-GB")
    english.goto("/orders/new")
    expect(english.get_by_label("Errands and shopping")).to_be_visible()


def test_a_secretary_corrects_hours_from_the_time_bank_desk(open_as, categories, world, resident, secretary, volunteer):
    from decimal import Decimal

    from orders import services
    from timebank.models import Entry

    order, _ = services.order_submit(resident=resident, data=services.OrderInput(category="errands", description="x"))
    services.order_accept(order_id=order.pk, user=secretary)
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    services.order_claim(order_id=order.pk, user=volunteer)
    services.order_start(order_id=order.pk, user=volunteer)
    services.order_complete(order_id=order.pk, user=volunteer, note="", hours=Decimal("1"))
    services.order_confirm(order_id=order.pk, user=resident, rating=5)

    page = open_as(secretary)
    page.goto("/desk/")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="爱心银行管理").click()
    page.locator(f'#balances tr[data-user="{volunteer.pk}"]').get_by_role("link", name="明细与更正").click()
    page.get_by_label("诉求编号").fill(str(order.pk))
    page.get_by_label("时数（+ 为补记，− 为扣回）").fill("0.5")
    page.get_by_label("原因").fill("Stayed to fix the door too")
    page.get_by_role("button", name="记录更正").click()
    expect(page.locator("#flash")).to_contain_text("更正已记录")
    expect(page.locator("#ledger")).to_contain_text("Stayed to fix the door too")
    expect(page.locator(f'#balances tr[data-user="{volunteer.pk}"]')).to_contain_text("1.50")
    assert Entry.objects.filter(kind="adjustment", actor=secretary, amount=Decimal("0.50")).exists()
