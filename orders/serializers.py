"""Input parsing and output shapes of the orders API (docs/api.md).

Serializers only parse (types, lengths, the contract's enums) and render; every rule about
what a value may be (a rating from 1 to 5, hours up to 24, what a dispatch or a transfer
must name) is decided once, in the service, for every caller.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

from core.ids import ID_MAX
from orders.models import Attachment, Category, Offer, Order, OrderEvent
from orders.privacy import mask, public_description, shown_actor, shown_text
from orders.selectors import latest_rating, order_attachments

MAX_DESCRIPTION = 2000
MAX_REASON = 500
# Ids are 64-bit; a larger number is not an id (SQLite cannot even bind it: a 500).
ID_MIN = 1


class CategorySerializer(serializers.ModelSerializer):
    skills: serializers.RelatedField = serializers.SlugRelatedField(many=True, read_only=True, slug_field="code")

    class Meta:
        model = Category
        fields = ["code", "name", "name_en", "description", "group", "skills"]


class CoordinateField(serializers.FloatField):
    """A float that is really a number: DRF's FloatField takes `true` as 1.0, which would
    route the order to whatever grid is nearest to (1, 1)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class OrderCreateSerializer(serializers.Serializer):
    category = serializers.SlugField(max_length=40)
    # May be empty when a voice note or a photo says it instead (orders.services.order_content_check).
    description = serializers.CharField(
        max_length=MAX_DESCRIPTION, trim_whitespace=True, required=False, allow_blank=True, default=""
    )
    lat = CoordinateField(min_value=-90, max_value=90, required=False)
    lng = CoordinateField(min_value=-180, max_value=180, required=False)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    contact_phone = serializers.RegexField(r"^\+?[0-9 ()-]{5,20}$", required=False, allow_blank=True, max_length=32)
    urgency = serializers.ChoiceField(choices=Order.Urgency.choices, default=Order.Urgency.NORMAL)
    # "callback": the resident asks to be called back; the desk calls them first.
    kind = serializers.ChoiceField(choices=Order.Kind.choices, default=Order.Kind.REQUEST)
    window_start = serializers.DateTimeField(required=False, allow_null=True)
    window_end = serializers.DateTimeField(required=False, allow_null=True)
    # Staff entering a walk-in or phone-in request name the resident it is for.
    resident = serializers.IntegerField(required=False, min_value=ID_MIN, max_value=ID_MAX)
    # Sent as multipart/form-data with the request itself; checked by content when attached.
    photo = serializers.FileField(required=False, allow_empty_file=False)
    voice = serializers.FileField(required=False, allow_empty_file=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lat" in attrs) != ("lng" in attrs):
            missing = "lng" if "lat" in attrs else "lat"
            raise serializers.ValidationError({missing: [_("Give both lat and lng, or neither.")]})
        return attrs


class OutputSerializer(serializers.ModelSerializer):
    """A read-only ModelSerializer that builds its fields once per class.

    DRF builds every field of a ModelSerializer again, from the model, for each instance: about
    a third of rendering an order's detail, which every action answers with and which runs
    beside the delivery of the action's events. These serializers' fields depend on the class
    alone, so each instance gets a copy of the first one's (as DRF copies declared fields)."""

    _built_fields: dict[type, dict[str, serializers.Field]] = {}
    # Per class: the fields that read one concrete column of the instance, by name.
    _plain_columns: dict[type, frozenset[str]] = {}

    def get_fields(self) -> dict[str, serializers.Field]:
        built = OutputSerializer._built_fields.get(type(self))
        if built is None:
            built = OutputSerializer._built_fields.setdefault(type(self), super().get_fields())
        # A field's deep copy builds it again from its arguments (a ChoiceField its choices):
        # most of a detail's rendering. An output field keeps no state while it renders, so a
        # shallow copy, bound to this serializer by DRF, is enough; a nested serializer is
        # copied deeply, as DRF does, so that its own fields are bound under this one.
        return {
            name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else copy.copy(field)
            for name, field in built.items()
        }

    def _plan(self) -> list[tuple[str, serializers.Field, str | None]]:
        """(name, field, column): `column` when the field reads one concrete column of the
        model, which `getattr` reads exactly as DRF's `get_attribute` would (no relation, no
        callable, nothing that can be missing); None for every other field."""
        plan = self.__dict__.get("_render_plan")
        if plan is None:
            columns = OutputSerializer._plain_columns.get(type(self))
            if columns is None:
                model: Any = self.Meta.model
                columns = frozenset(
                    f.attname for f in model._meta.concrete_fields if not f.is_relation and f.attname == f.name
                )
                OutputSerializer._plain_columns[type(self)] = columns
            plan = []
            zone = timezone.get_current_timezone() if settings.USE_TZ else None
            for field in self._readable_fields:
                if isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone"):
                    # What DRF's DateTimeField asks the active time zone for on every value:
                    # the zone is the same for the whole rendering.
                    field.timezone = zone  # type: ignore[assignment]  # None when USE_TZ is off, as DRF
                attrs = field.source_attrs
                column = attrs[0] if len(attrs) == 1 and attrs[0] in columns else None
                plan.append((field.field_name, field, column))
            self.__dict__["_render_plan"] = plan
        return plan

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # DRF's Serializer.to_representation, with a plain column read by getattr.
        ret: dict[str, Any] = {}
        for name, field, column in self._plan():
            if column is not None:
                attribute = getattr(instance, column)
            else:
                try:
                    attribute = field.get_attribute(instance)
                except SkipField:
                    continue
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[name] = None if check_for_none is None else field.to_representation(attribute)
        return ret


class TimelineSerializer(OutputSerializer):
    # The contract's names; `from` is a Python keyword, hence the explicit mapping.
    actor = serializers.SerializerMethodField()

    class Meta:
        model = OrderEvent
        fields = ["id", "action", "actor", "note", "at"]

    def _personal(self, event: OrderEvent) -> bool:
        return event.order_id in self.context.get("personal_ids", ())

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_actor(self, event: OrderEvent) -> str | None:
        # `event.order` is the order itself: the detail prefetches its events through it.
        return shown_actor(event, event.order, personal=self._personal(event))

    def to_representation(self, instance: OrderEvent) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["note"] = shown_text(instance.note, instance.order, personal=self._personal(instance)) or ""
        data["from"] = instance.from_status or None
        data["to"] = instance.to_status
        return data


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "kind", "content_type", "size", "duration_s", "created_at", "url"]

    def get_url(self, attachment: Attachment) -> str:
        return f"/api/v1/attachments/{attachment.token}"


class OrderSerializer(OutputSerializer):
    """An order as the caller may see it: `address` and `contact_phone` are null unless the
    view put `personal_ids` (order ids whose personal data the caller may see) in context."""

    category: serializers.RelatedField = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    branch_name = serializers.CharField(source="branch.name", read_only=True)
    area = serializers.SerializerMethodField()
    volunteer_name = serializers.SerializerMethodField()
    # Null for whoever may not see the resident's personal data (to_representation).
    address = serializers.CharField(read_only=True, allow_null=True)
    contact_phone = serializers.CharField(read_only=True, allow_null=True)
    lat = serializers.FloatField(read_only=True, allow_null=True)
    lng = serializers.FloatField(read_only=True, allow_null=True)
    # Empty until the order is dispatched: a plain string in the schema, not the choices' enum.
    dispatch_mode = serializers.CharField(read_only=True, help_text="direct, pool, broadcast or batch; empty before.")

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "category",
            "category_name",
            "description",
            "address",
            "lat",
            "lng",
            "urgency",
            "kind",
            "contact_phone",
            "branch",
            "branch_name",
            "area",
            "volunteer",
            "volunteer_name",
            "window_start",
            "window_end",
            "dispatch_mode",
            "hours",
            "created_at",
            "reviewed_at",
            "dispatched_at",
            "claimed_at",
            "started_at",
            "completed_at",
            "closed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_area(self, order: Order) -> str | None:
        return order.grid.name if order.grid is not None else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_volunteer_name(self, order: Order) -> str | None:
        return str(order.volunteer.user) if order.volunteer is not None else None

    def to_representation(self, instance: Order) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.pk not in self.context.get("personal_ids", ()):
            # Never the value: exact location too is personal; the area name stays. What the
            # resident typed may hold a phone number or their name: masked (orders/privacy.py).
            data["address"] = None
            data["contact_phone"] = None
            data["lat"] = None
            data["lng"] = None
            data["description"] = mask(instance.description, instance) or ""
            if data.get("completion_note"):
                data["completion_note"] = mask(instance.completion_note, instance)
        return data


# The columns a list of orders is rendered from (`render_order_rows`), as `values()` reads
# them: the fields of OrderSerializer, and what its privacy rules read (whose data to mask).
ORDER_ROW_COLUMNS = (
    "id",
    "status",
    "category__code",
    "category__name",
    "description",
    "address",
    "lat",
    "lng",
    "urgency",
    "kind",
    "contact_phone",
    "branch_id",
    "branch__name",
    "grid__name",
    "volunteer_id",
    "volunteer__user_id",
    "volunteer__user__display_name",
    "volunteer__user__username",
    "window_start",
    "window_end",
    "dispatch_mode",
    "hours",
    "created_at",
    "reviewed_at",
    "dispatched_at",
    "claimed_at",
    "started_at",
    "completed_at",
    "closed_at",
    "resident_id",
    "resident__email",
    "resident__first_name",
    "resident__last_name",
    "resident__display_name",
    "resident__username",
    "resident__resident__address",
    "resident__resident__phone",
)
# OrderSerializer's fields that are not one column of the order, read from the row instead.
_RELATED = {
    "category": lambda r: r["category__code"],
    "category_name": lambda r: str(r["category__name"]),
    "branch": lambda r: r["branch_id"],
    "branch_name": lambda r: str(r["branch__name"]),
    "area": lambda r: r["grid__name"],
    "volunteer": lambda r: r["volunteer_id"],
    "volunteer_name": lambda r: (
        (r["volunteer__user__display_name"] or r["volunteer__user__username"]) if r["volunteer_id"] else None
    ),
}


class _RowResident(SimpleNamespace):
    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()  # as Django's AbstractUser


def _row_order(row: dict[str, Any]) -> Any:
    """What `orders.privacy.mask` reads of an order and its resident, from a row."""
    profile = SimpleNamespace(address=row["resident__resident__address"], phone=row["resident__resident__phone"])
    resident = _RowResident(
        email=row["resident__email"],
        first_name=row["resident__first_name"],
        last_name=row["resident__last_name"],
        display_name=row["resident__display_name"],
        username=row["resident__username"],
        resident=profile,
    )
    return SimpleNamespace(address=row["address"], contact_phone=row["contact_phone"], resident=resident)


def render_order_rows(rows: list[dict[str, Any]], *, personal_ids: set[int]) -> list[dict[str, Any]]:
    """A list of orders as OrderSerializer renders it, byte for byte, from `values()` rows
    (ORDER_ROW_COLUMNS) instead of model instances: a page of 50 orders with their seven
    joined relations was ~400 model instances, most of the list's CPU (docs/performance.md,
    "Third pass"). Each value goes through the serializer's own field, so formats (dates in
    the active zone, hours as a string) are DRF's; masking is `orders.privacy.mask`'s."""
    plan = []
    for name, field, column in OrderSerializer()._plan():
        if column is None and name not in _RELATED:
            raise RuntimeError(f"OrderSerializer.{name} has no rendering from rows (ORDER_ROW_COLUMNS, _RELATED)")
        plan.append((name, field.to_representation if column is not None else None, column or name))
    out = []
    for row in rows:
        data: dict[str, Any] = {}
        for name, render, key in plan:
            if render is None:
                data[name] = _RELATED[key](row)
            else:
                value = row[key]
                data[name] = None if value is None else render(value)
        if row["id"] not in personal_ids:
            data["address"] = None
            data["contact_phone"] = None
            data["lat"] = None
            data["lng"] = None
            data["description"] = mask(row["description"], _row_order(row)) or ""
        out.append(data)
    return out


class OrderDetailSerializer(OrderSerializer):
    timeline = TimelineSerializer(source="events", many=True, read_only=True)
    attachments = serializers.SerializerMethodField()
    rating = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "completion_note", "timeline", "attachments", "rating", "roles"]
        read_only_fields = fields

    @extend_schema_field(AttachmentSerializer(many=True))
    def get_attachments(self, order: Order) -> list[dict[str, Any]]:
        if order.pk not in self.context.get("personal_ids", ()):
            return []
        return list(AttachmentSerializer(order_attachments(order), many=True).data)

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_rating(self, order: Order) -> dict[str, Any] | None:
        rating = latest_rating(order)
        if rating is None:
            return None
        personal = order.pk in self.context.get("personal_ids", ())
        return {"rating": rating.rating, "comment": shown_text(rating.comment, order, personal=personal) or ""}

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_roles(self, order: Order) -> list[str]:
        return sorted(str(r) for r in self.context.get("roles", ()))


class OfferSerializer(OutputSerializer):
    """An open offer: what the job is and roughly where; nothing personal (docs/api.md, "Privacy")."""

    order = serializers.IntegerField(source="order_id")
    category = serializers.CharField(source="order.category.code")
    category_name = serializers.CharField(source="order.category.name")
    description = serializers.SerializerMethodField()
    urgency = serializers.CharField(source="order.urgency")
    area = serializers.SerializerMethodField()
    window_start = serializers.DateTimeField(source="order.window_start", allow_null=True)
    window_end = serializers.DateTimeField(source="order.window_end", allow_null=True)

    class Meta:
        model = Offer
        fields = [
            "id",
            "order",
            "category",
            "category_name",
            "description",
            "urgency",
            "area",
            "distance_m",
            "mode",
            "window_start",
            "window_end",
            "created_at",
            "expires_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_area(self, offer: Offer) -> str | None:
        return offer.order.grid.name if offer.order.grid is not None else None

    @extend_schema_field(serializers.CharField())
    def get_description(self, offer: Offer) -> str:
        return public_description(offer.order)


# --- action bodies -----------------------------------------------------------------------------


class EmptySerializer(serializers.Serializer):
    pass


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True, default="")


class MergeSerializer(ReasonSerializer):
    # The order this one duplicates: it stays, this one is closed as merged into it.
    into = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX)


class NearbyQuerySerializer(serializers.Serializer):
    """`GET /orders/nearby`: the category being chosen, the point (else the caller's home),
    and what they typed so far (the most alike come first)."""

    category = serializers.SlugField(max_length=40)
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    lng = serializers.FloatField(required=False, min_value=-180, max_value=180)
    text = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lat" in attrs) != ("lng" in attrs):
            raise serializers.ValidationError({"lng": [_("Give both lat and lng, or neither.")]})
        return attrs


class NearbyOrderSerializer(serializers.Serializer):
    """An open request as any neighbour may see it: no name, phone, address or exact point."""

    id = serializers.IntegerField()
    category = serializers.CharField()
    area = serializers.CharField(allow_null=True)
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    distance_m = serializers.IntegerField(help_text="Rounded to 100 m.")
    followers = serializers.IntegerField(help_text="Neighbours who said this is theirs too (+1).")
    following = serializers.BooleanField()


class DuplicateSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="order.pk")
    status = serializers.CharField(source="order.status")
    description = serializers.CharField(source="order.description")
    area = serializers.CharField(source="order.grid.name", allow_null=True, default=None)
    created_at = serializers.DateTimeField(source="order.created_at")
    similarity = serializers.FloatField(allow_null=True, help_text="0–1; null when one of them has no words.")
    distance_m = serializers.IntegerField()
    hours_apart = serializers.FloatField()


class TransferSerializer(ReasonSerializer):
    # The service's names: it decides what a transfer must name.
    branch = serializers.IntegerField(required=False, min_value=ID_MIN, max_value=ID_MAX, source="branch_id")
    area = serializers.IntegerField(required=False, min_value=ID_MIN, max_value=ID_MAX, source="area_id")


class DispatchSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["direct", "pool", "broadcast"])
    volunteer = serializers.IntegerField(required=False, min_value=ID_MIN, max_value=ID_MAX)
    volunteers = serializers.ListField(
        child=serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX), required=False, max_length=200
    )
    top = serializers.IntegerField(required=False, min_value=1, max_value=50)


class CompleteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=MAX_DESCRIPTION, required=False, allow_blank=True, default="")
    hours = serializers.DecimalField(max_digits=5, decimal_places=2, help_text="More than 0, at most 24.")


class ConfirmSerializer(serializers.Serializer):
    rating = serializers.IntegerField(required=False, allow_null=True, help_text="From 1 to 5.")
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RequiredReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_REASON)


ACTION_BODIES: dict[str, type[serializers.Serializer]] = {
    "accept": EmptySerializer,
    "reject": RequiredReasonSerializer,
    "transfer": TransferSerializer,
    "cancel": ReasonSerializer,
    "dispatch": DispatchSerializer,
    "claim": EmptySerializer,
    "decline": ReasonSerializer,
    "recall": ReasonSerializer,
    "release": RequiredReasonSerializer,
    "start": EmptySerializer,
    "complete": CompleteSerializer,
    "confirm": ConfirmSerializer,
    "reopen": RequiredReasonSerializer,
    "merge": MergeSerializer,
}
