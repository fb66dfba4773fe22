"""REST endpoints for orders: parse, call one service, render. No rules live here."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, prefetch_related_objects
from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from orders import services
from orders.attachments import attachment_for, order_attach
from orders.errors import InvalidInput, NotPermitted
from orders.models import Category, IdempotencyKey, Order, OrderEvent
from orders.selectors import (
    can_see_personal_data,
    desk_branch_ids,
    open_offers_for,
    order_get_for,
    order_list,
    personal_ids_for,
)
from orders.serializers import (
    ACTION_BODIES,
    AttachmentSerializer,
    CategorySerializer,
    OfferSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderSerializer,
)
from orders.states import ACTIONS, Status

MAX_IDEMPOTENCY_KEY = 128
# Visible ASCII only: a NUL or a control character is no key (and PostgreSQL refuses NUL).
IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY}}}")
STATUSES = frozenset(s.value for s in Status)


class OrderSubmitThrottle(UserRateThrottle):
    """Per-resident limit on new orders (ORDER_SUBMIT_RATE); retries of a known key are free."""

    scope = "order_submit"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method != "POST":
            return True
        key = request.headers.get("Idempotency-Key") or ""
        if (
            IDEMPOTENCY_KEY.fullmatch(key)
            and request.user.is_authenticated
            and IdempotencyKey.objects.filter(user=request.user, key=key).exists()
        ):
            # A phone retrying after a lost response creates nothing: never lock it out.
            return True
        return super().allow_request(request, view)


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


def render_order(order: Order, user, *, detail: bool = False, roles=None) -> dict[str, Any]:
    if detail:
        # The timeline with its actors in one query, not one more per step.
        prefetch_related_objects([order], Prefetch("events", OrderEvent.objects.select_related("actor")))
        context = {"personal_ids": {order.pk} if can_see_personal_data(roles or set()) else set(), "roles": roles}
        return OrderDetailSerializer(order, context=context).data
    return OrderSerializer(order, context={"personal_ids": personal_ids_for(user, [order])}).data


class CategoryList(ListAPIView):
    serializer_class = CategorySerializer
    pagination_class = None
    permission_classes: list = []

    def get_queryset(self):
        return Category.objects.filter(active=True).prefetch_related("skills")


class OrderListCreate(APIView):
    throttle_classes = [OrderSubmitThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="Only orders in this state."),
            OpenApiParameter(
                "role", str, enum=["resident", "desk", "volunteer"], description="Only orders seen in this role."
            ),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=OrderSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status")
        if wanted and wanted not in STATUSES:
            raise InvalidInput(fields={"status": [_("Unknown status.")]})
        qs = order_list(request.user, status=wanted, role=request.query_params.get("role"))
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        assert page is not None
        context = {"personal_ids": personal_ids_for(request.user, page)}
        return paginator.get_paginated_response(OrderSerializer(page, many=True, context=context).data)

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
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise InvalidInput(fields={"Idempotency-Key": [_("Use a key of 1 to 128 visible ASCII characters.")]})
        resident: Any = request.user
        submitted_by = None
        resident_id = data.pop("resident", None)
        if resident_id is not None and resident_id != request.user.pk:
            # Only desk staff may enter a request on someone else's behalf (walk-ins, phone-ins).
            if not desk_branch_ids(request.user):
                raise NotPermitted(_("Only branch or community staff may submit for another resident."))
            resident = get_user_model().objects.filter(pk=resident_id, is_active=True).first()
            if resident is None:
                raise InvalidInput(fields={"resident": [_("Unknown resident.")]})
            submitted_by = request.user
        # Files sent with the request (multipart) are attached in its transaction.
        files = {kind: data.pop(kind, None) for kind in ("photo", "voice")}
        attachments = [(kind, upload) for kind, upload in files.items() if upload is not None]
        order, created = services.order_submit(
            resident=resident,
            data=services.OrderInput(**data),
            submitted_by=submitted_by,
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
        request=inline_serializer("ActionBody", {"reason": serializers.CharField(required=False)}),
        responses=OrderDetailSerializer,
        description="Bodies: dispatch {mode, volunteer | volunteers | top}; complete {note, hours}; "
        "confirm {rating, comment}; reject, transfer {branch | area}, release, reopen, cancel {reason}.",
    )
    def post(self, request: Request, order_id: int, action: str) -> Response:
        if action not in ACTIONS:
            return Response({"code": "not_found", "detail": _("Unknown action.")}, status=404)
        body = ACTION_BODIES[action](data=request.data)
        body.is_valid(raise_exception=True)
        kwargs = dict(body.validated_data)
        if action == "transfer":
            kwargs["branch_id"] = kwargs.pop("branch", None)
            kwargs["area_id"] = kwargs.pop("area", None)
        services.ACTION_SERVICES[action](order_id=order_id, user=request.user, **kwargs)
        order, roles = order_get_for_after(request.user, order_id)
        if order is None:
            # The caller no longer sees the order (e.g. a volunteer who declined): say it worked.
            return Response({"id": order_id, "ok": True})
        return Response(render_order(order, request.user, detail=True, roles=roles))


def order_get_for_after(user, order_id: int):
    from orders.errors import OrderNotFound

    try:
        return order_get_for(user, order_id)
    except OrderNotFound:
        return None, set()


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
