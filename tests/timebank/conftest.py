import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Test users need a password, not a slow hash: PBKDF2 dominates the fixtures' time otherwise.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
