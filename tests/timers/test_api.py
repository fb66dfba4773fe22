"""`/api/v1/me/notification-preferences` and `/api/v1/me/push-subscriptions`."""

from __future__ import annotations

import pytest

from accounts.models import ResidentProfile
from notifications.models import PushSubscription
from tests.timers.test_delivery import Phone

PREFS = "/api/v1/me/notification-preferences"
SUBS = "/api/v1/me/push-subscriptions"


@pytest.mark.django_db
class TestPreferences:
    def test_defaults_before_anything_is_saved(self, api, volunteer):
        body = api(volunteer).get(PREFS).json()
        assert body == {
            "push": True,
            "email": True,
            "sms": False,
            "sound": True,
            "vibrate": True,
            "quiet_start": None,
            "quiet_end": None,
            "quiet_now": False,
        }

    def test_sound_and_vibration_are_switched_off_and_stay_off(self, api, volunteer):
        client = api(volunteer)
        assert client.patch(PREFS, {"sound": False, "vibrate": False}, format="json").status_code == 200
        assert client.get(PREFS).json() | {"quiet_now": False} == {
            "push": True,
            "email": True,
            "sms": False,
            "sound": False,
            "vibrate": False,
            "quiet_start": None,
            "quiet_end": None,
            "quiet_now": False,
        }

    def test_patch_changes_only_what_is_sent(self, api, volunteer):
        client = api(volunteer)
        assert client.patch(PREFS, {"quiet_start": "22:00", "quiet_end": "07:00"}, format="json").status_code == 200
        response = client.patch(PREFS, {"push": False}, format="json")
        assert response.status_code == 200
        body = client.get(PREFS).json()
        assert (body["push"], body["email"], body["quiet_start"], body["quiet_end"]) == (False, True, "22:00", "07:00")

    def test_quiet_hours_can_be_cleared(self, api, volunteer):
        client = api(volunteer)
        client.patch(PREFS, {"quiet_start": "22:00", "quiet_end": "07:00"}, format="json")
        assert client.patch(PREFS, {"quiet_start": None, "quiet_end": None}, format="json").status_code == 200
        assert client.get(PREFS).json()["quiet_start"] is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"quiet_start": "22:00"}, "quiet_end"),
            ({"quiet_end": "07:00"}, "quiet_start"),
            ({"quiet_start": "22:00", "quiet_end": "22:00"}, "quiet_end"),
            ({"quiet_start": "25:00", "quiet_end": "07:00"}, "quiet_start"),
            ({"quiet_start": "late", "quiet_end": "07:00"}, "quiet_start"),
            ({"push": "sometimes"}, "push"),
            ({"quiet_stat": "22:00"}, "quiet_stat"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, api, volunteer, body, field):
        response = api(volunteer).patch(PREFS, body, format="json")
        assert response.status_code == 400
        assert field in response.json()
        assert api(volunteer).get(PREFS).json()["quiet_start"] is None  # nothing half-saved

    def test_not_a_json_object_is_a_400(self, api, volunteer):
        assert api(volunteer).patch(PREFS, ["push"], format="json").status_code == 400

    def test_text_messages_need_a_phone_number(self, api, volunteer, resident):
        response = api(volunteer).patch(PREFS, {"sms": True}, format="json")  # no resident profile, no phone
        assert response.status_code == 400 and "sms" in response.json()
        assert api(resident).patch(PREFS, {"sms": True}, format="json").json()["sms"] is True
        profile = ResidentProfile.objects.get(user=resident)
        profile.phone = ""
        profile.save()
        signed_in = type(resident).objects.get(pk=resident.pk)  # as the next request would load them
        assert api(signed_in).patch(PREFS, {"sms": True}, format="json").status_code == 400

    def test_anonymous_caller_is_refused(self, api, db):
        assert api().get(PREFS).status_code in (401, 403)
        assert api().patch(PREFS, {"push": False}, format="json").status_code in (401, 403)


@pytest.mark.django_db
class TestPushSubscriptions:
    def test_register_list_and_forget(self, api, volunteer, settings):
        settings.VAPID_PUBLIC_KEY = "BPublicKeyForTheApp"
        phone = Phone()
        client = api(volunteer)
        assert client.post(SUBS, phone.subscription(), format="json").status_code == 201
        assert client.post(SUBS, phone.subscription(), format="json").status_code == 201  # idempotent
        listed = client.get(SUBS).json()
        assert listed["vapid_public_key"] == "BPublicKeyForTheApp"
        assert [s["endpoint"] for s in listed["subscriptions"]] == [phone.endpoint]
        assert client.delete(SUBS, {"endpoint": phone.endpoint}, format="json").status_code == 204
        assert not PushSubscription.objects.exists()

    def test_nobody_sees_or_deletes_anothers_subscription(self, api, volunteer, volunteer2):
        phone = Phone()
        api(volunteer).post(SUBS, phone.subscription(), format="json")
        assert api(volunteer2).get(SUBS).json()["subscriptions"] == []
        api(volunteer2).delete(SUBS, {"endpoint": phone.endpoint}, format="json")
        assert PushSubscription.objects.filter(user=volunteer).exists()

    def test_a_browser_used_by_a_new_account_pushes_only_to_that_account(self, api, volunteer, volunteer2):
        phone = Phone()
        api(volunteer).post(SUBS, phone.subscription(), format="json")
        api(volunteer2).post(SUBS, phone.subscription(), format="json")
        assert PushSubscription.objects.get(endpoint=phone.endpoint).user == volunteer2

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"endpoint": "http://push.example.net/x"}, "endpoint"),
            ({"endpoint": "not a url"}, "endpoint"),
            ({"keys": {"p256dh": "short", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "keys"),
            ({"keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "keys"),
            ({"keys": None}, "keys"),
            ({"extra": 1}, "extra"),
        ],
    )
    def test_bad_subscription_is_a_400_naming_the_field(self, api, volunteer, change, field):
        body = {**Phone().subscription(), **change}
        response = api(volunteer).post(SUBS, body, format="json")
        assert response.status_code == 400
        assert field in response.json()
        assert not PushSubscription.objects.exists()
