import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Test users need a password, not a slow hash: PBKDF2 dominates the fixtures' time otherwise.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def errands(db):
    """The seeded category; a transactional test that ran before may have flushed the seed."""
    from decimal import Decimal

    from orders.models import Category

    category, _ = Category.objects.get_or_create(code="errands", defaults={"name": "跑腿代購"})
    Category.objects.filter(pk=category.pk).update(max_hours=Decimal("5"))
    return category
