from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from django.db.models import Count, Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.typing import AuthedRequest
from core.ids import ID_MAX
from core.prepared import prepared
from notifications.models import Notification
from notifications.realtime import realtime_ticket_issue
from notifications.services import notifications_mark_read


class NotificationSerializer(serializers.ModelSerializer):
    unread = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "order", "created_at", "unread"]


class ReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX), required=False, max_length=500
    )
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("all") and not attrs.get("ids"):
            raise serializers.ValidationError({"ids": ["Give ids, or all: true."]})
        return attrs


class NotificationList(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=inline_serializer(
            "PaginatedNotificationList",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": NotificationSerializer(many=True),
                "unread": serializers.IntegerField(),
            },
        ),
    )
    def get(self, request: AuthedRequest) -> Response:
        paginator = cast(type[LimitOffsetPagination], api_settings.DEFAULT_PAGINATION_CLASS)()
        rows = _PageAndCounts(request.user.pk)
        page = paginator.paginate_queryset(cast(Any, rows), request, view=self)  # what DRF asks of a queryset
        assert page is not None
        response = paginator.get_paginated_response(render_notification_rows(page))
        response.data["unread"] = rows.unread
        return response


class _PageAndCounts:
    """A page of a person's notifications as rows, and the total and the unread counted in
    one statement; the counts and the first page of the default size (nearly every request)
    are compiled once (core/prepared.py)."""

    def __init__(self, uid: int) -> None:
        self.uid = uid
        self.unread = 0

    def count(self) -> int:
        counts = _counts.first(self.uid)
        if counts is None:
            return 0
        self.unread = counts["unread_count"]
        return counts["total_count"]

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        if page.start == 0 and page.stop == _FIRST_PAGE:
            return _first_page.all(self.uid)
        return list(_rows(self.uid)[page])


_FIRST_PAGE: int = cast(Any, api_settings.DEFAULT_PAGINATION_CLASS).default_limit
_ROW_COLUMNS = ("id", "kind", "title", "body", "order_id", "created_at", "read_at")


def _rows(uid: int) -> QuerySet:
    return Notification.objects.filter(user_id=uid).order_by("-created_at", "-id").values(*_ROW_COLUMNS)


@prepared
def _first_page(uid: int) -> QuerySet:
    return _rows(uid)[:_FIRST_PAGE]


@prepared
def _counts(uid: int) -> QuerySet:
    unread = Count("id", filter=Q(read_at__isnull=True))
    counts = {"total_count": Count("id"), "unread_count": unread}
    return Notification.objects.filter(user_id=uid).values("user_id").annotate(**counts)[:1]  # one group


def render_notification_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as NotificationSerializer renders them (each value through its own field, so
    the formats are DRF's), from `values()`: the serializer over model instances was a third
    of the request's CPU for a page of 50."""
    created_at, kind, title, body = _fields()
    return [
        {
            "id": row["id"],
            "kind": kind(row["kind"]),
            "title": title(row["title"]),
            "body": body(row["body"]),
            "order": row["order_id"],
            "created_at": created_at(row["created_at"]),
            "unread": row["read_at"] is None,
        }
        for row in rows
    ]


@functools.cache
def _fields() -> tuple[Callable[[Any], Any], ...]:
    # Built once: a ModelSerializer builds its fields anew for each instance (1 ms here).
    fields = NotificationSerializer().fields
    return tuple(fields[n].to_representation for n in ("created_at", "kind", "title", "body"))


class NotificationRead(APIView):
    @extend_schema(
        request=ReadSerializer, responses=inline_serializer("ReadResult", {"marked": serializers.IntegerField()})
    )
    def post(self, request: AuthedRequest) -> Response:
        body = ReadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        marked = notifications_mark_read(
            user=request.user, ids=body.validated_data.get("ids"), all_=body.validated_data.get("all", False)
        )
        return Response({"marked": marked})


class RealtimeTicket(APIView):
    """A single-use ticket for opening the WebSocket from an app: connect `/ws/?ticket=…`
    within REALTIME["TICKET_SECONDS"]; a used or expired ticket is refused."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "realtime_ticket"

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "RealtimeTicketResult",
                {
                    "ticket": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                    "url": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request: AuthedRequest) -> Response:
        token, ticket = realtime_ticket_issue(user=request.user)
        return Response({"ticket": token, "expires_at": ticket.expires_at, "url": f"/ws/?ticket={token}"}, status=201)
