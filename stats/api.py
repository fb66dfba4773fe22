"""/api/v1/stats and the sampling-review endpoints: parse, call, render."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.typing import AuthedRequest
from orders.serializers import ID_MAX, ID_MIN
from stats.cache import remembered
from stats.figures import figures
from stats.models import ReviewItem, ReviewSample
from stats.periods import parse_period
from stats.selectors import scope_for
from stats.services import review_record, review_sample_draw
from volunteers.selectors import staff_area_ids

FiguresSerializer = inline_serializer(
    "Figures",
    {
        "scope": serializers.CharField(),
        "label": serializers.CharField(),
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "received": serializers.IntegerField(),
        "accepted": serializers.IntegerField(),
        "closed": serializers.IntegerField(),
        "completion_rate": serializers.FloatField(allow_null=True),
        "ratings": serializers.IntegerField(),
        "satisfied": serializers.IntegerField(),
        "satisfaction_rate": serializers.FloatField(allow_null=True),
        "median_minutes_to_review": serializers.FloatField(allow_null=True),
        "median_minutes_to_claim": serializers.FloatField(allow_null=True),
        "median_minutes_to_complete": serializers.FloatField(allow_null=True),
        "reopened": serializers.IntegerField(),
        "reopen_rate": serializers.FloatField(allow_null=True),
        "overdue": serializers.IntegerField(),
        "reviews": serializers.DictField(child=serializers.IntegerField()),
        "review_confirmed_rate": serializers.FloatField(allow_null=True),
    },
)


class Stats(APIView):
    """Figures of one scope over a period; definitions in `stats.figures`."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "scope", str, required=True, description="branch:<id>, area:<id>, volunteer:<id>, category:<code>"
            ),
            OpenApiParameter("from", str, description="YYYY-MM-DD, included (default: first of this month)"),
            OpenApiParameter("to", str, description="YYYY-MM-DD, included (default: today)"),
            OpenApiParameter("category", str, description="Only this category (code)."),
        ],
        responses=FiguresSerializer,
    )
    def get(self, request: AuthedRequest) -> Response:
        params = request.query_params
        start, end = parse_period(params.get("from"), params.get("to"))
        scope = scope_for(request.user, params.get("scope"), category=params.get("category"))
        body = {"scope": scope.text, "label": scope.label, "from": start, "to": end}
        cohort = scope.cohort(start, end)
        body.update(remembered("figures", cohort, lambda: figures(cohort)))
        return Response(body)


class SampleSerializer(serializers.ModelSerializer):
    percent = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True)
    items = serializers.SerializerMethodField()

    class Meta:
        model = ReviewSample
        fields = ["id", "branch", "area", "start", "end", "percent", "population", "created_at", "items"]

    def get_items(self, sample: ReviewSample) -> list[dict]:
        return [
            {"id": i.id, "order": i.order_id, "result": i.result or None, "reviewed_at": i.reviewed_at}
            for i in sample.items.all()
        ]


class DrawSerializer(serializers.Serializer):
    branch = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX, required=False)
    area = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX, required=False)
    start = serializers.DateField()
    end = serializers.DateField()
    percent = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal("0.01"), max_value=100)


class ResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=ReviewItem.Result.choices)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ReviewSampleList(APIView):
    """Staff's sampling reviews: list the samples of their areas, draw a new one."""

    @extend_schema(responses=SampleSerializer(many=True))
    def get(self, request: AuthedRequest) -> Response:
        areas = staff_area_ids(request.user.pk)
        qs = (
            ReviewSample.objects.filter(branch__area_id__in=areas) | ReviewSample.objects.filter(area_id__in=areas)
        ).prefetch_related("items")[:50]
        return Response(SampleSerializer(qs, many=True).data)

    @extend_schema(request=DrawSerializer, responses={201: SampleSerializer})
    def post(self, request: AuthedRequest) -> Response:
        body = DrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        sample = review_sample_draw(
            user=request.user,
            start=data["start"],
            end=data["end"],
            percent=data["percent"],
            branch_id=data.get("branch"),
            area_id=data.get("area"),
        )
        return Response(SampleSerializer(sample).data, status=status.HTTP_201_CREATED)


class ReviewRecord(APIView):
    """Record what a call-back found; it lands on the order's timeline."""

    @extend_schema(
        request=ResultSerializer,
        responses=inline_serializer(
            "ReviewResult",
            {"id": serializers.IntegerField(), "order": serializers.IntegerField(), "result": serializers.CharField()},
        ),
    )
    def post(self, request: AuthedRequest, item_id: int) -> Response:
        body = ResultSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = review_record(user=request.user, item_id=item_id, **body.validated_data)
        return Response({"id": item.pk, "order": item.order_id, "result": item.result})
