"""The files a street office keeps: the desk's order list (with its filters) and the figures
per branch and month, as .xlsx and CSV: the same columns in both, Chinese headers in
zh-Hans, each role's rows only, streamed without holding every row in memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from orders import services
from orders.models import Category, Order
from orders.states import Status
from tests.factories import BASE_LAT, BASE_LNG, ResidentProfileFactory
from web import exports

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


def signed_in(user, language: str = "zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def submit(user, category="errands", text="帮我买菜", **extra):
    data = {"category": category, "description": text, "contact_phone": PHONE, **extra}
    order, _ = services.order_submit(resident=user, data=services.OrderInput(**data))
    return order


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body(response).decode("utf-8-sig"))))


def read_xlsx(response) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(body(response)), read_only=True).active
    rows = [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]
    width = len(rows[0]) if rows else 0
    return [row + [""] * (width - len(row)) for row in rows]  # a row's empty last cells are not stored


@pytest.fixture
def orders(world, resident, other_resident, secretary):
    """Two north orders (one accepted) and one south order."""
    first = submit(resident, text="帮我买菜")
    second = submit(resident, category="repair", text="水龙头漏水")
    services.order_accept(order_id=second.pk, user=secretary)
    south = submit(other_resident, text="去药店取药")
    return first, second, south


# --- the desk's order list ---------------------------------------------------------------------


def test_the_order_list_exports_the_same_columns_as_xlsx_and_csv_with_chinese_headers(orders, secretary):
    first, second, _south = orders
    client = signed_in(secretary)
    as_csv = read_csv(client.get("/desk/orders/export.csv"))
    as_xlsx = read_xlsx(client.get("/desk/orders/export.xlsx"))
    assert as_csv[0] == as_xlsx[0]
    assert as_csv[0][:4] == ["编号", "提交时间", "类别", "状态"]
    # The same rows, newest first; numbers stay numbers in the spreadsheet.
    assert [r[0] for r in as_csv[1:]] == [str(second.pk), str(first.pk)]
    assert [r[0] for r in as_xlsx[1:]] == [second.pk, first.pk]
    assert [str(v) for v in as_xlsx[1]] == [str(v) for v in as_csv[1]]
    # The page shows the same columns.
    page = client.get("/desk/orders/").content.decode()
    assert all(f'<th scope="col">{h}</th>' in page for h in as_csv[0])


def test_headers_follow_the_page_language(orders, secretary):
    header = read_csv(signed_in(secretary, "en").get("/desk/orders/export.csv"))[0]
    assert header[:4] == ["No.", "Submitted at", "Category", "Status"]


def test_the_export_keeps_the_page_filters(orders, secretary):
    _first, second, _south = orders
    client = signed_in(secretary)
    accepted = read_csv(client.get("/desk/orders/export.csv", {"status": "accepted"}))
    assert [r[0] for r in accepted[1:]] == [str(second.pk)]
    repair = read_xlsx(client.get("/desk/orders/export.xlsx", {"category": "repair"}))
    assert [r[0] for r in repair[1:]] == [second.pk]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert read_csv(client.get("/desk/orders/export.csv", {"start": tomorrow}))[1:] == []
    # The page's export links carry the filters.
    page = client.get("/desk/orders/", {"status": "accepted"}).content.decode()
    assert "/desk/orders/export.xlsx?status=accepted" in page


def test_each_role_exports_its_own_desks_orders_only(orders, secretary, other_secretary, staff, world):
    first, second, south = orders
    north_rows = read_csv(signed_in(secretary).get("/desk/orders/export.csv"))
    assert {r[0] for r in north_rows[1:]} == {str(first.pk), str(second.pk)}
    # Naming another desk's branch shows nothing of it.
    other = read_csv(signed_in(secretary).get("/desk/orders/export.csv", {"branch": world.south_branch.pk}))
    assert str(south.pk) not in {r[0] for r in other[1:]}
    assert {r[0] for r in read_csv(signed_in(other_secretary).get("/desk/orders/export.csv"))[1:]} == {str(south.pk)}
    # Staff of the community above both branches: both.
    assert len(read_csv(signed_in(staff).get("/desk/orders/export.csv"))) == 4


@pytest.mark.parametrize("who", ["resident", "volunteer", "outsider"])
def test_no_desk_no_export(who, request, orders):
    client = signed_in(request.getfixturevalue(who))
    for path in ["/desk/orders/", "/desk/orders/export.csv", "/desk/orders/export.xlsx"]:
        assert client.get(path).status_code == 404
    assert Client().get("/desk/orders/export.csv").status_code == 302  # to the sign-in page


def test_the_desk_file_holds_what_the_desk_may_see(orders, secretary, world):
    """The desk may see the resident's phone and address (they call back from this list);
    the +1s and merges show in their own columns."""
    first, _second, _south = orders
    neighbour = ResidentProfileFactory(user__username="neighbour", grid=world.north, lat=BASE_LAT, lng=BASE_LNG).user
    duplicate = submit(neighbour, text="帮我买菜")
    services.order_merge(order_id=duplicate.pk, user=secretary, into=first.pk)
    rows = {r[0]: r for r in read_csv(signed_in(secretary, "en").get("/desk/orders/export.csv"))}
    header = rows.pop("No.")
    by_name = {str(first.pk): dict(zip(header, rows[str(first.pk)], strict=True))}
    assert by_name[str(first.pk)]["Phone"] == PHONE
    assert by_name[str(first.pk)]["Same need (+1)"] == "1"
    assert dict(zip(header, rows[str(duplicate.pk)], strict=True))["Merged into"] == str(first.pk)


def _bulk(world, resident, n: int) -> None:
    category = Category.objects.get(code="errands")
    Order.objects.bulk_create(
        Order(
            resident=resident,
            category=category,
            description=f"第{i}号：帮我买菜和取药，谢谢" * 3,
            contact_phone=PHONE,
            address="北区一号楼",
            lat=BASE_LAT,
            lng=BASE_LNG,
            grid=world.north,
            branch=world.north_branch,
            status=Status.SUBMITTED,
        )
        for i in range(n)
    )


def _peak_while_reading(client: Client, path: str) -> tuple[int, int]:
    """(peak bytes allocated while the response is made and read, the rows read)."""
    tracemalloc.start()
    try:
        response = client.get(path)
        lines = 0
        if response.streaming:
            for chunk in response.streaming_content:
                lines += chunk.count(b"\n")
        else:
            lines = len(response.content)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, lines


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_stream_rows_instead_of_holding_them(fmt, world, resident, secretary, monkeypatch):
    """Four times the rows must not take four times the memory: rows come from the database
    a chunk at a time and leave as they are written (CSV to the response, xlsx to a file on
    disk). bench/exports.py measures 10^5 rows (docs/performance.md, "Exports")."""
    monkeypatch.setattr(exports, "CHUNK", 250)
    client = signed_in(secretary)
    _bulk(world, resident, 1000)
    small, _ = _peak_while_reading(client, f"/desk/orders/export.{fmt}")
    _bulk(world, resident, 3000)
    large, read = _peak_while_reading(client, f"/desk/orders/export.{fmt}")
    if fmt == "csv":
        assert read == 4001  # the header and every row did come through
    else:
        assert len(read_xlsx(client.get("/desk/orders/export.xlsx"))) == 4001
    print(f"\n{fmt}: peak {small / 1e6:.1f} MB for 1,000 rows, {large / 1e6:.1f} MB for 4,000")
    assert large < 2 * small


# --- the statistics page: figures per branch and month -------------------------------------------


def test_the_dashboard_exports_its_figures_per_branch_and_month(orders, staff, world, secretary):
    first, _second, _south = orders
    neighbour = ResidentProfileFactory(user__username="neighbour", grid=world.north, lat=BASE_LAT, lng=BASE_LNG).user
    duplicate = submit(neighbour, text="帮我买菜")
    services.order_merge(order_id=duplicate.pk, user=secretary, into=first.pk)
    client = signed_in(staff)
    scope = {"scope": f"area:{world.community.pk}"}
    as_csv = read_csv(client.get("/stats/branches.csv", scope))
    as_xlsx = read_xlsx(client.get("/stats/branches.xlsx", scope))
    assert as_csv[0] == as_xlsx[0] and as_csv[0][:3] == ["月份", "支部", "收到诉求"]
    month = f"{timezone.localdate():%Y-%m}"
    north = dict(zip(as_csv[0], next(r for r in as_csv[1:] if r[1] == "North branch"), strict=True))
    assert north["月份"] == month
    # The merged duplicate is counted once, as its survivor, and shown in its own column.
    assert (north["收到诉求"], north["受理"], north["合并的重复（不计入）"]) == ("2", "1", "1")
    assert [r[1] for r in as_xlsx[1:]] == ["North branch", "South branch"]
    # The page shows the same table and links to both files.
    page = client.get("/stats/", scope).content.decode()
    assert 'id="per-branch"' in page and "/stats/branches.xlsx?" in page
    assert all(h in page for h in as_csv[0])


def test_figures_per_branch_are_scoped_per_role(orders, secretary, volunteer, world):
    client = signed_in(secretary)
    own = read_csv(client.get("/stats/branches.csv", {"scope": f"branch:{world.north_branch.pk}"}))
    assert [r[1] for r in own[1:]] == ["North branch"]
    assert client.get("/stats/branches.csv", {"scope": f"branch:{world.south_branch.pk}"}).status_code == 403
    assert client.get("/stats/branches.xlsx", {"scope": f"area:{world.community.pk}"}).status_code == 403
    mine = signed_in(volunteer).get("/stats/branches.csv", {"scope": f"volunteer:{volunteer.volunteer.pk}"})
    assert mine.status_code == 400  # a volunteer's own figures have no branches to list
