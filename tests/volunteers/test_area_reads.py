"""The areas a staff member oversees and the branches under an area, each read in one statement:
the same sets as walking the tree level by level, for seats at every level of a city's tree."""

from __future__ import annotations

import pytest

from tests.factories import AreaFactory, BranchFactory, UserFactory
from volunteers.models import Area, Branch
from volunteers.selectors import branch_ids_under, descendant_ids, staff_area_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def city():
    """Two streets; the first with two communities of two grids each, a branch on every grid
    and one on a community itself; the second street with one community and one grid."""
    east = AreaFactory(level=Area.Level.STREET, name="East")
    west = AreaFactory(level=Area.Level.STREET, name="West")
    areas = [east, west]
    for street, communities in ((east, 2), (west, 1)):
        for c in range(communities):
            community = AreaFactory(level=Area.Level.COMMUNITY, parent=street, name=f"{street.name} c{c}")
            areas.append(community)
            for g in range(2 if street is east else 1):
                grid = AreaFactory(level=Area.Level.GRID, parent=community, name=f"{community.name} g{g}")
                areas.append(grid)
                BranchFactory(area=grid)
    BranchFactory(area=areas[2])  # a branch seated on a community
    return areas


def _walked(user) -> set[int]:
    seats = list(Area.objects.filter(staff=user).values_list("id", flat=True))
    return descendant_ids(seats) if seats else set()


def test_staff_oversee_their_seats_and_everything_below_them(city):
    east, west, east_c0, east_c0_g0 = city[0], city[1], city[2], city[3]
    people = {
        "street": [east],
        "community": [east_c0],
        "grid": [east_c0_g0],
        "two seats": [east_c0, west],
        "none": [],
    }
    for name, seats in people.items():
        user = UserFactory(username=name.replace(" ", "-"))
        for area in seats:
            area.staff.add(user)
        assert staff_area_ids(user.pk) == _walked(user), name
    street_staff = Area.objects.get(pk=east.pk).staff.get()
    assert len(staff_area_ids(street_staff.pk)) == 7  # the street, two communities, four grids


def test_the_branches_under_an_area_are_those_of_its_subtree(city):
    for area in city:
        walked = sorted(Branch.objects.filter(area_id__in=descendant_ids([area.pk])).values_list("id", flat=True))
        assert list(branch_ids_under(area.pk)) == walked, area.name
    assert len(branch_ids_under(city[0].pk)) == 5  # four grids' branches and the community's
