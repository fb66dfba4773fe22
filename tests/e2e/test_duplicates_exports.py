"""Duplicates and exports as people use them: a neighbour finds their need already reported
and says "this is mine too"; the desk merges a duplicate from the order page; the desk and
the statistics page download what they show. Then the pages of both, at phone and desk size,
in Simplified Chinese and English (screenshots; with SANDAN_DOCS_SCREENSHOTS=1 also written
small to docs/pages/, the pictures of docs/pages.md)."""

from __future__ import annotations

import csv
import io
import os

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from orders import services
from orders.models import Order, OrderFollower
from tests.e2e.conftest import DESKTOP, PHONE, SCREENSHOTS
from tests.e2e.test_page_tour import DOCS, LANGUAGES, save_small
from tests.factories import BASE_LAT, BASE_LNG, ResidentProfileFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHONE_NUMBER = "13912345678"


@pytest.fixture
def neighbour(world):
    return ResidentProfileFactory(user__username="neighbour", grid=world.north, lat=BASE_LAT + 0.001, lng=BASE_LNG).user


def submit(user, text: str, category: str = "repair") -> Order:
    data = services.OrderInput(category=category, description=text, contact_phone=PHONE_NUMBER)
    order, _ = services.order_submit(resident=user, data=data)
    return order


def test_a_neighbour_says_this_is_mine_too_instead_of_asking_again(open_as, categories, resident, neighbour):
    order = submit(resident, f"厨房水龙头漏水，电话 {PHONE_NUMBER}")
    page = open_as(neighbour, phone=True)
    page.goto("/orders/new")
    page.locator("label.choice", has=page.locator("input[value=repair]")).click()
    page.locator("#id_description").fill("我家水龙头也在漏水")
    nearby = page.locator("#nearby")
    expect(nearby).to_be_visible()
    expect(nearby.locator("#nearby-title")).to_have_text("附近已有人提过？")
    card = nearby.locator(f"[data-nearby='{order.pk}']")
    expect(card).to_contain_text("厨房水龙头漏水")
    expect(card).not_to_contain_text(PHONE_NUMBER)  # a neighbour's words, their phone masked
    card.get_by_role("button", name="我也有这个需求 (+1)").click()
    expect(page).to_have_url(f"{page.url.split('/orders/')[0]}/orders/{order.pk}/")
    expect(page.locator("#following-note")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(PHONE_NUMBER)
    assert OrderFollower.objects.filter(order=order, user=neighbour, source="mine_too").exists()
    # Their "My requests" lists it, marked as followed.
    page.goto("/orders/")
    expect(page.locator(f"[data-order='{order.pk}']")).to_contain_text("你已关注")


def test_the_desk_merges_a_duplicate_from_the_order_page(open_as, categories, resident, neighbour, secretary):
    survivor = submit(resident, "厨房水龙头漏水")
    duplicate = submit(neighbour, "水龙头一直在漏水，麻烦了")
    desk = open_as(secretary)
    desk.goto(f"/orders/{duplicate.pk}/")
    row = desk.locator(f"#duplicates [data-duplicate='{survivor.pk}']")
    expect(row).to_contain_text("厨房水龙头漏水")
    row.get_by_role("button", name=f"把本条合并到 #{survivor.pk}").click()
    expect(desk.locator("#order-status")).to_have_text("已合并（重复）")
    assert Order.objects.get(pk=duplicate.pk).merged_into_id == survivor.pk
    # The neighbour is sent on to the request they now follow.
    mine = open_as(neighbour, phone=True)
    mine.goto(f"/orders/{duplicate.pk}/")
    mine.locator("#merged-note").get_by_role("link").click()
    expect(mine.locator("#following-note")).to_be_visible()
    expect(mine.locator("body")).not_to_contain_text(PHONE_NUMBER)


def test_the_desk_downloads_the_filtered_order_list(open_as, categories, resident, secretary):
    first = submit(resident, "帮我买菜", category="errands")
    second = submit(resident, "水龙头漏水")
    services.order_accept(order_id=second.pk, user=secretary)
    desk = open_as(secretary)
    desk.goto("/desk/")
    desk.locator("#all-orders").click()
    expect(desk.locator("#orders-table tbody tr")).to_have_count(2)
    desk.locator("#order-filters select[name=status]").select_option("accepted")
    desk.locator("#order-filters").get_by_role("button", name="显示").click()
    expect(desk.locator("#orders-table tbody tr")).to_have_count(1)
    headers = desk.locator("#orders-table thead th").all_inner_texts()
    with desk.expect_download() as xlsx:
        desk.locator("#export-xlsx").click()
    assert xlsx.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.value.path().read_bytes()), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == headers and [r[0] for r in rows[1:]] == [second.pk]
    with desk.expect_download() as as_csv:
        desk.locator("#export-csv").click()
    lines = list(csv.reader(io.StringIO(as_csv.value.path().read_text(encoding="utf-8-sig"))))
    assert lines[0] == headers and [r[0] for r in lines[1:]] == [str(second.pk)]
    assert str(first.pk) not in {r[0] for r in lines[1:]}


def test_the_statistics_page_downloads_its_figures_per_branch(open_as, categories, world, resident, staff):
    submit(resident, "帮我买菜", category="errands")
    page = open_as(staff)
    page.goto("/stats/")
    table = page.locator("#per-branch")
    expect(table).to_contain_text("North branch")
    with page.expect_download() as xlsx:
        page.locator("#export-branches-xlsx").click()
    book = load_workbook(io.BytesIO(xlsx.value.path().read_bytes()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert list(rows[0]) == table.locator("thead th").all_inner_texts()
    assert [r[1] for r in rows[1:]] == ["North branch"] and rows[1][2] == 1


def test_the_pages_at_both_sizes_in_both_languages(open_as, categories, world, resident, neighbour, secretary, staff):
    survivor = submit(resident, "厨房水龙头漏水，麻烦尽快来看看")
    duplicate = submit(neighbour, "水龙头一直在漏水，谢谢")
    other = submit(neighbour, "客厅的灯不亮了")
    services.order_accept(order_id=other.pk, user=secretary)
    services.order_follow(order_id=survivor.pk, user=neighbour)
    docs = os.environ.get("SANDAN_DOCS_SCREENSHOTS") == "1"
    out = SCREENSHOTS / "tour"
    out.mkdir(parents=True, exist_ok=True)
    visits = [
        ("request-nearby", neighbour, "/orders/new"),
        ("followed-request", neighbour, f"/orders/{survivor.pk}/"),
        ("likely-duplicates", secretary, f"/orders/{duplicate.pk}/"),
        ("all-orders", secretary, "/desk/orders/"),
        ("statistics-per-branch", staff, "/stats/"),
    ]
    problems = []
    for language, locale in LANGUAGES.items():
        for size, viewport in {"phone": PHONE, "desk": DESKTOP}.items():
            for name, user, path in visits:
                page = open_as(user, viewport=viewport, phone=size == "phone", locale=locale)
                assert page.goto(path).status == 200
                if name == "request-nearby":
                    page.locator("label.choice", has=page.locator("input[value=repair]")).click()
                    page.locator("#id_description").fill("水龙头漏水")
                    expect(page.locator("#nearby .card")).to_have_count(1)
                    page.locator("#nearby").scroll_into_view_if_needed()
                if name == "statistics-per-branch":
                    page.locator("#per-branch-title").scroll_into_view_if_needed()
                page.wait_for_load_state("networkidle")
                if size == "phone":
                    wide = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
                    if wide > 1 and name not in {"all-orders", "statistics-per-branch"}:
                        problems.append(f"{language} {size} {name}: {wide} px wider than the screen")
                shot = page.screenshot(full_page=False)
                (out / f"{language}-{size}-{name}.png").write_bytes(shot)
                if docs:
                    save_small(shot, DOCS / f"{language}-{size}-{name}.png", size)
                page.context.close()
    assert not problems, "\n".join(problems)
