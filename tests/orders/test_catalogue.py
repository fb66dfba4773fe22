"""The categories list is kept in the cache, and an operator's edit shows on the next read."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from orders.models import Category
from volunteers.models import Skill

pytestmark = pytest.mark.django_db


def _listed() -> dict[str, dict]:
    response = APIClient().get("/api/v1/categories")
    assert response.status_code == 200
    return {item["code"]: item for item in response.json()}


def test_a_second_read_asks_the_database_nothing(django_assert_num_queries):
    first = _listed()
    assert first  # the seeded categories
    with django_assert_num_queries(0):
        assert _listed() == first


def test_an_edit_in_the_admin_shows_once_it_commits(django_capture_on_commit_callbacks):
    category = Category.objects.filter(active=True).first()
    assert category is not None
    _listed()  # now kept

    with django_capture_on_commit_callbacks(execute=True):
        category.name = "Renamed by the operator"
        category.save()
    assert _listed()[category.code]["name"] == "Renamed by the operator"

    with django_capture_on_commit_callbacks(execute=True):
        category.active = False
        category.save()
    assert category.code not in _listed()


def test_a_skill_added_or_renamed_shows(django_capture_on_commit_callbacks):
    category = Category.objects.filter(active=True).first()
    assert category is not None
    skill = Skill.objects.create(code="ladder", name="Ladder work")
    _listed()

    with django_capture_on_commit_callbacks(execute=True):
        category.skills.add(skill)
    assert "ladder" in _listed()[category.code]["skills"]

    with django_capture_on_commit_callbacks(execute=True):
        skill.code = "tall-ladder"
        skill.save()
    skills = _listed()[category.code]["skills"]
    assert "tall-ladder" in skills and "ladder" not in skills


def test_an_edit_that_rolls_back_leaves_the_kept_list_alone(django_capture_on_commit_callbacks):
    category = Category.objects.filter(active=True).first()
    assert category is not None
    before = _listed()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        category.name = "Never committed"
        category.save()
    # The forget waits for the commit; until then readers keep the committed list.
    assert len(callbacks) == 1
    assert _listed() == before
