"""REST endpoints for orders: parse, call one service, render. No rules live here."""

from __future__ import annotations

import re
from typing import Any, cast

from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.typing import AuthedRequest
from orders import services
from orders.actions import order_act
from orders.attachments import attachment_for, order_attach
from orders.catalogue import active_categories
from orders.duplicates import likely_duplicates, nearby_open
from orders.errors import InvalidInput, OrderNotFound
from orders.models import Order
from orders.selectors import (
    MAX_BATCH,
    OrderRows,
    can_see_personal_data,
    open_offers_for,
    order_get_for,
    personal_ids_for,
    personal_ids_for_rows,
    with_timeline,
)
from orders.serializers import (
    ID_MAX,
    ID_MIN,
    ORDER_ROW_COLUMNS,
    AttachmentSerializer,
    CategorySerializer,
    DuplicateSerializer,
    NearbyOrderSerializer,
    NearbyQuerySerializer,
    OfferSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderSerializer,
    render_order_rows,
)
from orders.states import ACTIONS, Status
from timebank.api import EntrySerializer
from volunteers.selectors import desk_branch_ids

MAX_IDEMPOTENCY_KEY = 128
# Visible ASCII only: a NUL or a control character is no key (and PostgreSQL refuses NUL).
IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY}}}")
STATUSES = frozenset(s.value for s in Status)


def render_order(order: Order, user, *, detail: bool = False, roles=None) -> dict[str, Any]:
    if detail:
        with_timeline(order)  # the timeline with its actors in one query, not one more per step
        personal = can_see_personal_data(roles or set(), order)
        context = {"personal_ids": {order.pk} if personal else set(), "roles": roles}
        return OrderDetailSerializer(order, context=context).data
    return OrderSerializer(order, context={"personal_ids": personal_ids_for(user, [order])}).data


class CategoryList(APIView):
    permission_classes: list = []

    @extend_schema(responses=CategorySerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(active_categories())


class OrderListCreate(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="Only orders in this state."),
            OpenApiParameter(
                "role", str, enum=["resident", "desk", "volunteer"], description="Only orders seen in this role."
            ),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=inline_serializer(
            "PaginatedOrderList",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": OrderSerializer(many=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status")
        if wanted and wanted not in STATUSES:
            raise InvalidInput(fields={"status": [_("Unknown status.")]})
        desks = desk_branch_ids(request.user)  # read once: the scope and the personal data both need it
        role = request.query_params.get("role")
        paginator = cast(type[LimitOffsetPagination], api_settings.DEFAULT_PAGINATION_CLASS)()
        # Rows, not model instances: the same output (render_order_rows), a third of the CPU.
        rows = cast(Any, OrderRows(request.user, ORDER_ROW_COLUMNS, status=wanted, role=role, desks=desks))
        page = paginator.paginate_queryset(rows, request, view=self)
        assert page is not None
        personal = personal_ids_for_rows(request.user, page, desks=desks)
        return paginator.get_paginated_response(render_order_rows(page, personal_ids=personal))

    @extend_schema(
        request=OrderCreateSerializer,
        responses={201: OrderDetailSerializer, 200: OrderDetailSerializer},
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, description="Retry-safe creation.")
        ],
    )
    def post(self, request: Request) -> Response:
        body = OrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        # Staff entering a walk-in or phone-in name the resident; the service decides who may.
        resident_id = data.pop("resident", None)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise InvalidInput(fields={"Idempotency-Key": [_("Use a key of 1 to 128 visible ASCII characters.")]})
        # Files sent with the request (multipart) are attached in its transaction.
        files = {kind: data.pop(kind, None) for kind in ("photo", "voice")}
        attachments = [(kind, upload) for kind, upload in files.items() if upload is not None]
        order, created = services.order_submit_by(
            user=request.user,
            data=services.OrderInput(**data),
            resident_id=resident_id,
            idempotency_key=key,
            attachments=attachments,
        )
        order, roles = order_get_for(request.user, order.pk)
        return Response(
            render_order(order, request.user, detail=True, roles=roles),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class OrderDetail(APIView):
    @extend_schema(responses=OrderDetailSerializer)
    def get(self, request: Request, order_id: int) -> Response:
        order, roles = order_get_for(request.user, order_id)
        return Response(render_order(order, request.user, detail=True, roles=roles))


class OrderAction(APIView):
    """POST /api/v1/orders/{id}/{action}: one lifecycle action, one service call."""

    @extend_schema(
        operation_id="orders_action",
        parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH, enum=list(ACTIONS))],
        request=inline_serializer("ActionBody", {"reason": serializers.CharField(required=False)}),
        responses=OrderDetailSerializer,
        description="Bodies: dispatch {mode, volunteer | volunteers | top}; complete {note, hours}; "
        "confirm {rating, comment}; reject, transfer {branch | area}, release, reopen, cancel {reason}. "
        "With an Idempotency-Key the action is taken once: a retry answers as the first call did.",
    )
    def post(self, request: Request, order_id: int, action: str) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise InvalidInput(fields={"Idempotency-Key": [_("Use a key of 1 to 128 visible ASCII characters.")]})
        order_act(order_id=order_id, user=request.user, action=action, data=request.data, idempotency_key=key)
        try:
            order, roles = order_get_for(request.user, order_id)
        except OrderNotFound:
            # The caller no longer sees the order (e.g. a volunteer who declined): say it worked.
            return Response({"id": order_id, "ok": True})
        return Response(render_order(order, request.user, detail=True, roles=roles))


class NearbyOrders(APIView):
    """GET /api/v1/orders/nearby: "already reported nearby?" while a resident writes a request."""

    @extend_schema(
        parameters=[NearbyQuerySerializer],
        responses=NearbyOrderSerializer(many=True),
        description="Open requests of the category within SANDAN_NEARBY_METRES of the point (else the "
        "caller's home), not the caller's own; the most alike to `text` first. No personal data: the "
        "area's name, the description masked, when, the distance rounded to 100 m, the +1 count.",
    )
    def get(self, request: Request) -> Response:
        query = NearbyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        rows = nearby_open(request.user, category=q["category"], lat=q.get("lat"), lng=q.get("lng"), text=q["text"])
        return Response(NearbyOrderSerializer(rows, many=True).data)


class OrderFollow(APIView):
    """POST /api/v1/orders/{id}/follow: "this is mine too" (a +1; the caller follows the order)."""

    @extend_schema(request=None, responses={201: OrderDetailSerializer, 200: OrderDetailSerializer})
    def post(self, request: Request, order_id: int) -> Response:
        _order, created = services.order_follow(order_id=order_id, user=request.user)
        order, roles = order_get_for(request.user, order_id)
        return Response(
            render_order(order, request.user, detail=True, roles=roles),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class OrderDuplicates(APIView):
    """GET /api/v1/orders/{id}/duplicates: the desk's likely duplicates of an order."""

    @extend_schema(responses=DuplicateSerializer(many=True))
    def get(self, request: Request, order_id: int) -> Response:
        order_get_for(request.user, order_id)  # 404 for whoever does not see the order
        return Response(DuplicateSerializer(likely_duplicates(request.user, order_id), many=True).data)


class OfferList(APIView):
    @extend_schema(responses=OfferSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(OfferSerializer(open_offers_for(request.user), many=True).data)


class AttachmentUpload(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "AttachmentUpload",
                {"kind": serializers.ChoiceField(["photo", "voice"]), "file": serializers.FileField()},
            )
        },
        responses={201: AttachmentSerializer},
    )
    def post(self, request: Request, order_id: int) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(fields={"file": [_("Attach a file.")]})
        attachment = order_attach(
            order_id=order_id, user=request.user, kind=request.data.get("kind", ""), upload=upload
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentDownload(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, token: str) -> FileResponse:
        attachment = attachment_for(request.user, token)
        response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = f'inline; filename="{attachment.token}.{attachment.extension}"'
        return response


# --- many orders at once, and the time bank's corrections: orders services too -----------------


class PairSerializer(serializers.Serializer):
    order = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX)
    volunteer = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX)


class BatchConfirmSerializer(serializers.Serializer):
    # DRF supports max_length on many=True (3.14+); the stubs do not know it yet.
    assignments = PairSerializer(many=True, allow_empty=False, max_length=MAX_BATCH)  # type: ignore[call-arg]


class BatchConfirm(APIView):
    """POST /api/v1/orders/batch/confirm: the secretary's (possibly edited) batch proposal."""

    @extend_schema(
        request=BatchConfirmSerializer,
        responses=OrderDetailSerializer(many=True),
        description="Dispatch each pair as a direct offer (mode batch). All or nothing.",
    )
    def post(self, request: Request) -> Response:
        body = BatchConfirmSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pairs = [(p["order"], p["volunteer"]) for p in body.validated_data["assignments"]]
        orders = services.order_batch_dispatch(user=request.user, assignments=pairs)
        return Response([render_order(o, request.user) for o in orders])


class AdjustSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX)
    order = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX)
    amount = serializers.DecimalField(max_digits=5, decimal_places=2, help_text="Non-zero, at most 24 either way.")
    reason = serializers.CharField(max_length=500)


class TimebankAdjust(APIView):
    """POST /api/v1/timebank/adjust: the desk of an order's branch corrects the hours credited
    for it (an orders service: whether the caller may is the order's business)."""

    @extend_schema(request=AdjustSerializer, responses={201: EntrySerializer})
    def post(self, request: AuthedRequest) -> Response:
        body = AdjustSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        entry = services.order_timebank_adjust(
            actor=request.user,
            user_id=data["user"],
            order_id=data["order"],
            amount=data["amount"],
            reason=data["reason"],
        )
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)
