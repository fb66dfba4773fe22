"""The order lists are rendered from rows (`orders.serializers.render_order_rows`), not model
instances: byte for byte what OrderSerializer renders, masking included, for every viewer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.utils import translation
from rest_framework.renderers import JSONRenderer

from orders import services
from orders.selectors import order_list, personal_ids_for
from orders.serializers import OrderSerializer
from volunteers.selectors import desk_branch_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(resident, secretary, volunteer, volunteer2):
    """Orders in every state a list shows, whose text names the resident and their numbers."""
    resident.display_name = "Wang Fang"
    resident.first_name, resident.last_name, resident.email = "Fang", "Wang", "fang@example.org"
    resident.save()
    resident.resident.address = "12 Plum Lane"
    resident.resident.phone = "13800138000"
    resident.resident.save()
    text = "Wang Fang at 12 Plum Lane, call 139 1234 5678 or fang@example.org; Fang is upstairs."

    def submit(**fields):
        data = services.OrderInput(category="errands", description=text, **fields)
        return services.order_submit(resident=resident, data=data)[0]

    made = [submit(address="12 Plum Lane", contact_phone="13800138000") for _ in range(5)]
    made.append(submit(urgency="urgent", kind="callback"))
    services.order_accept(order_id=made[1].pk, user=secretary)
    for order in made[2:5]:
        services.order_accept(order_id=order.pk, user=secretary)
        services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    services.order_claim(order_id=made[3].pk, user=volunteer)
    services.order_claim(order_id=made[4].pk, user=volunteer)
    services.order_start(order_id=made[4].pk, user=volunteer)
    services.order_complete(order_id=made[4].pk, user=volunteer, note="Done", hours=Decimal("1.25"))
    return made


@pytest.mark.parametrize("who", ["resident", "secretary", "staff", "volunteer", "volunteer2"])
@pytest.mark.parametrize(("language", "zone"), [("zh-hans", "Asia/Shanghai"), ("en", "UTC")])
def test_a_list_from_rows_is_what_the_serializer_renders(orders, api, request, who, language, zone, settings):
    settings.TIME_ZONE = zone  # dates in the active zone: "+08:00", or DRF's "Z" for UTC
    user = request.getfixturevalue(who)
    with translation.override(language):
        for role in ("", "?role=resident", "?role=desk", "?role=volunteer"):
            response = api(user).get(f"/api/v1/orders{role}", HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code == 200
            rows = response.json()["results"]
            page = list(order_list(user, role=role.partition("=")[2] or None)[:50])
            context = {"personal_ids": personal_ids_for(user, page, desks=desk_branch_ids(user))}
            expected = JSONRenderer().render(OrderSerializer(page, many=True, context=context).data)
            assert JSONRenderer().render(rows) == expected
            assert json.loads(expected) == rows
            assert all(r["created_at"].endswith("Z" if zone == "UTC" else "+08:00") for r in rows)


def test_what_a_volunteer_reads_in_a_list_is_masked(orders, api, volunteer):
    rows = api(volunteer).get("/api/v1/orders?role=volunteer").json()["results"]
    assert rows, "the volunteer holds two orders"
    text = json.dumps(rows)
    # The holder sees the one they hold in full; nothing else of the resident leaks.
    held = {r["id"] for r in rows if r["address"] is not None}
    assert held == {orders[3].pk, orders[4].pk}
    others = [r for r in rows if r["id"] not in held]
    assert all(r["contact_phone"] is None and r["lat"] is None for r in others)
    assert all("Plum" not in r["description"] and "139 1234" not in r["description"] for r in others)
    assert "1.25" in text  # hours rendered as DRF renders a decimal
