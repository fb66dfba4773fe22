"""The desk's panels show their most pressing page (web.desk.PAGE_SIZE) and a way to the rest:
rendering every open order made the desk page the slowest of all (docs/performance.md)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from web import desk

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-order="(\d+)"', html)]


@pytest.fixture
def page_of_three(monkeypatch):
    monkeypatch.setattr(desk, "PAGE_SIZE", 3)


def test_the_queue_shows_its_most_pressing_page_and_a_way_to_the_rest(page_of_three, submit, secretary):
    plain = [submit(description=f"Plain {i}") for i in range(4)]
    urgent = submit(description="Fell, cannot get up", urgency="urgent")
    client = signed_in(secretary)

    queue = client.get("/desk/?fragment=queue").content.decode()
    # The urgent one first though it came last; then the longest waiting.
    assert shown(queue) == [urgent.pk, plain[0].pk, plain[1].pk]
    assert "The 3 most pressing of 5." in queue or "最紧迫的 3 条，共 5 条" in queue
    assert 'href="/desk/?all=1"' in queue and "/desk/orders/?status=submitted" in queue
    # Every waiting id is on the table: the page's script counts and chimes for a new one
    # that arrives below the page.
    ids = re.search(r'data-ids="([\d ]*)"', queue)
    assert ids and {int(i) for i in ids.group(1).split()} == {o.pk for o in [*plain, urgent]}

    everything = client.get("/desk/?fragment=queue&all=1").content.decode()
    assert sorted(shown(everything)) == sorted(o.pk for o in [*plain, urgent])
    assert "all=1" not in everything.split("</table>")[1]  # all shown: no "show all" link


def test_the_board_shows_its_most_pressing_page(page_of_three, submit, advance, secretary):
    accepted = [advance(submit(description=f"Accepted {i}"), "accepted") for i in range(5)]
    client = signed_in(secretary)
    board = client.get("/desk/?fragment=board").content.decode()
    assert len(shown(board)) == 3 and set(shown(board)) <= {o.pk for o in accepted}
    assert "The 3 most pressing of 5." in board or "最紧迫的 3 条，共 5 条" in board
    assert len(shown(client.get("/desk/?fragment=board&all=1").content.decode())) == 5


def test_the_whole_page_keeps_show_all_in_its_live_panels(page_of_three, submit, secretary):
    for i in range(4):
        submit(description=f"Plain {i}")
    client = signed_in(secretary)
    page = client.get("/desk/").content.decode()
    assert len(shown(page.split('id="queue"')[1].split("</section>")[0])) == 3
    assert "fragment=queue&amp;branch=&amp;all=1" not in page
    everything = client.get("/desk/?all=1").content.decode()
    assert "fragment=queue&amp;branch=&amp;all=1" in everything
    assert len(shown(everything.split('id="queue"')[1].split("</section>")[0])) == 4


def test_a_panel_past_its_page_reads_the_same_statements_for_5_or_15_orders(page_of_three, submit, secretary):
    client = signed_in(secretary)

    def count() -> int:
        client.get("/desk/")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/desk/").status_code == 200
        return len(ctx.captured_queries)

    for i in range(5):
        submit(description=f"Row {i}")
    five = count()
    for i in range(10):
        submit(description=f"Row {i + 5}")
    assert count() == five


def test_past_the_cap_the_total_is_counted(monkeypatch, page_of_three, submit, secretary):
    from web import selectors

    monkeypatch.setattr(selectors, "QUEUE_CAP", 4)
    for i in range(6):
        submit(description=f"Row {i}")
    queue = signed_in(secretary).get("/desk/?fragment=queue").content.decode()
    assert "The 3 most pressing of 6." in queue or "最紧迫的 3 条，共 6 条" in queue
