"""/api/v1 endpoints of the time bank: parse, call one service or selector, render."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.typing import AuthedRequest
from core.ids import ID_MAX
from timebank import services
from timebank.models import Account, Entry, RedemptionItem
from timebank.selectors import balance_of, entries_of, items_on_offer, leaderboard

MAX_LIMIT = 200


class EntrySerializer(serializers.ModelSerializer):
    at = serializers.DateTimeField(source="created_at", read_only=True)
    item = serializers.SerializerMethodField()

    class Meta:
        model = Entry
        fields = ["id", "kind", "amount", "balance_after", "order", "redemption", "item", "reason", "at"]

    def get_item(self, entry: Entry) -> str | None:
        return entry.redemption.item.name if entry.redemption is not None else None


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = RedemptionItem
        fields = ["id", "name", "description", "cost", "stock"]


class ItemCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    cost = serializers.DecimalField(max_digits=6, decimal_places=2, min_value=Decimal("0.01"))
    stock = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)


class RedeemSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=ID_MAX)


def _limit(request: AuthedRequest, default: int = 50) -> tuple[int, int]:
    """`limit` and `offset`, bounded as every list's (project/pagination.py)."""
    paginator = cast(type[LimitOffsetPagination], api_settings.DEFAULT_PAGINATION_CLASS)()
    paginator.default_limit = default
    paginator.max_limit = MAX_LIMIT
    return paginator.get_limit(request) or default, paginator.get_offset(request)


class MeTimebank(APIView):
    """The caller's balance and history (newest first)."""

    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=inline_serializer(
            "Timebank",
            {
                "balance": serializers.DecimalField(max_digits=10, decimal_places=2),
                "earned": serializers.DecimalField(max_digits=10, decimal_places=2),
                "count": serializers.IntegerField(),
                "entries": EntrySerializer(many=True),
            },
        ),
    )
    def get(self, request: AuthedRequest) -> Response:
        limit, offset = _limit(request)
        entries = entries_of(request.user.pk)
        account = Account.objects.filter(user=request.user).first()
        body: dict[str, Any] = {
            "balance": str(balance_of(request.user.pk)),
            "earned": str(account.earned if account else "0.00"),
            "count": entries.count(),
            "entries": EntrySerializer(entries[offset : offset + limit], many=True).data,
        }
        return Response(body)


class ItemList(APIView):
    @extend_schema(responses=ItemSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        return Response(ItemSerializer(items_on_offer(), many=True).data)

    @extend_schema(request=ItemCreateSerializer, responses={201: ItemSerializer})
    def post(self, request: AuthedRequest) -> Response:
        body = ItemCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = services.redemption_item_create(actor=request.user, **body.validated_data)
        return Response(ItemSerializer(item).data, status=status.HTTP_201_CREATED)


class Redeem(APIView):
    @extend_schema(
        request=RedeemSerializer,
        responses={
            201: inline_serializer(
                "RedeemResult", {"redemption": serializers.IntegerField(), "entry": EntrySerializer()}
            )
        },
    )
    def post(self, request: AuthedRequest) -> Response:
        body = RedeemSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        redemption = services.timebank_redeem(user=request.user, item_id=body.validated_data["item"])
        entry = Entry.objects.select_related("redemption__item").get(redemption=redemption)
        return Response({"redemption": redemption.pk, "entry": EntrySerializer(entry).data}, status=201)


class Leaderboard(APIView):
    """Most hours earned, city-wide or within one branch's members."""

    @extend_schema(
        parameters=[OpenApiParameter("branch", int), OpenApiParameter("limit", int)],
        responses=inline_serializer(
            "LeaderboardRow",
            {
                "rank": serializers.IntegerField(),
                "name": serializers.CharField(),
                "earned": serializers.DecimalField(max_digits=10, decimal_places=2),
            },
            many=True,
        ),
    )
    def get(self, request: AuthedRequest) -> Response:
        limit, _offset = _limit(request, default=20)
        branch = request.query_params.get("branch")
        if branch is not None and not (branch.isascii() and branch.isdigit() and 0 < int(branch) < 2**63):
            raise serializers.ValidationError({"branch": ["Give a branch id."]})
        rows = leaderboard(branch_ids=[int(branch)] if branch else None, limit=limit)
        return Response(
            [
                {"rank": i, "name": a.user.display_name or a.user.username, "earned": str(a.earned)}
                for i, a in enumerate(rows, start=1)
            ]
        )
