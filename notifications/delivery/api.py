"""`/api/v1/me/notification-preferences` and `/api/v1/me/push-subscriptions`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.delivery.preferences import (
    PreferenceError,
    Prefs,
    preference_update,
    prefs_for,
    push_subscription_delete,
    push_subscription_save,
)
from notifications.models import PushSubscription

_TIME_INPUTS = ["%H:%M", "%H:%M:%S"]


def _user_id(request: Request) -> int:
    """The caller's id; the views are behind IsAuthenticated (the project default)."""
    assert request.user.pk is not None
    return int(request.user.pk)


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know: a typo (`quiet_stat`) must not pass silently."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(self.initial_data, dict):
            raise serializers.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({key: [_("Unknown field.")] for key in unknown})
        return attrs


class PreferenceSerializer(StrictSerializer):
    push = serializers.BooleanField(required=False)
    email = serializers.BooleanField(required=False)
    sms = serializers.BooleanField(required=False)
    sound = serializers.BooleanField(required=False)
    vibrate = serializers.BooleanField(required=False)
    quiet_start = serializers.TimeField(required=False, allow_null=True, format="%H:%M", input_formats=_TIME_INPUTS)
    quiet_end = serializers.TimeField(required=False, allow_null=True, format="%H:%M", input_formats=_TIME_INPUTS)


def _prefs_body(prefs: Prefs) -> dict[str, Any]:
    return {
        "push": prefs.push,
        "email": prefs.email,
        "sms": prefs.sms,
        "sound": prefs.sound,
        "vibrate": prefs.vibrate,
        "quiet_start": prefs.quiet_start.strftime("%H:%M") if prefs.quiet_start else None,
        "quiet_end": prefs.quiet_end.strftime("%H:%M") if prefs.quiet_end else None,
        "quiet_now": prefs.is_quiet(timezone.now()),
    }


_PREFS_SCHEMA = inline_serializer(
    "NotificationPreferences",
    {
        "push": serializers.BooleanField(),
        "email": serializers.BooleanField(),
        "sms": serializers.BooleanField(),
        "sound": serializers.BooleanField(),
        "vibrate": serializers.BooleanField(),
        "quiet_start": serializers.CharField(allow_null=True),
        "quiet_end": serializers.CharField(allow_null=True),
        "quiet_now": serializers.BooleanField(),
    },
)


class NotificationPreferences(APIView):
    """Channels on or off and quiet hours (local time, may wrap midnight, e.g. 22:00–07:00).
    During quiet hours nothing is pushed or texted except for urgent orders."""

    @extend_schema(responses=_PREFS_SCHEMA)
    def get(self, request: Request) -> Response:
        return Response(_prefs_body(prefs_for(_user_id(request))))

    @extend_schema(request=PreferenceSerializer, responses=_PREFS_SCHEMA)
    def patch(self, request: Request) -> Response:
        body = PreferenceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            row = preference_update(user=request.user, data=body.validated_data)
        except PreferenceError as exc:
            return Response(exc.fields, status=status.HTTP_400_BAD_REQUEST)
        return Response(_prefs_body(Prefs.of(row)))


def _b64url_bytes(value: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


class KeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)

    def validate_p256dh(self, value: str) -> str:
        raw = _b64url_bytes(value)
        # An uncompressed P-256 point: 0x04 then 64 bytes.
        if raw is None or len(raw) != 65 or raw[0] != 4:
            raise serializers.ValidationError(_("Not a P-256 public key (base64url, 65 bytes)."))
        return value

    def validate_auth(self, value: str) -> str:
        raw = _b64url_bytes(value)
        if raw is None or len(raw) != 16:
            raise serializers.ValidationError(_("Not a push auth secret (base64url, 16 bytes)."))
        return value


class SubscriptionSerializer(StrictSerializer):
    endpoint = serializers.URLField(max_length=1000)
    keys = KeysSerializer()
    expirationTime = serializers.IntegerField(required=False, allow_null=True)

    def validate_endpoint(self, value: str) -> str:
        if not value.startswith("https://"):
            raise serializers.ValidationError(_("Push endpoints are https URLs."))
        return value


class EndpointSerializer(StrictSerializer):
    endpoint = serializers.URLField(max_length=1000)


class PushSubscriptions(APIView):
    """Register the browser's or app's `PushSubscription` (`subscription.toJSON()`), so offers
    reach the phone while the app is closed. GET gives the VAPID public key to subscribe with."""

    @extend_schema(
        responses=inline_serializer(
            "PushSubscriptions",
            {
                "vapid_public_key": serializers.CharField(allow_null=True),
                "subscriptions": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request: Request) -> Response:
        subs = PushSubscription.objects.filter(user_id=_user_id(request)).order_by("-created_at")
        return Response(
            {
                "vapid_public_key": settings.VAPID_PUBLIC_KEY or None,
                "subscriptions": [
                    {"id": s.pk, "endpoint": s.endpoint, "created_at": s.created_at.isoformat()} for s in subs
                ],
            }
        )

    @extend_schema(request=SubscriptionSerializer, responses={201: None})
    def post(self, request: Request) -> Response:
        body = SubscriptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        sub = push_subscription_save(
            user=request.user,
            endpoint=data["endpoint"],
            p256dh=data["keys"]["p256dh"],
            auth=data["keys"]["auth"],
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(
            {"id": sub.pk, "endpoint": sub.endpoint, "created_at": sub.created_at.isoformat()},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=EndpointSerializer, responses={204: None})
    def delete(self, request: Request) -> Response:
        body = EndpointSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        push_subscription_delete(user=request.user, endpoint=body.validated_data["endpoint"])
        return Response(status=status.HTTP_204_NO_CONTENT)
