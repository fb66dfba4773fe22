"""/api/v1/desk/map: what the desk's map draws (web/map.py decides scope and privacy)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.serializers import ID_MAX, ID_MIN
from web.map import desk_map


class MapOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    urgency = serializers.CharField()
    urgent = serializers.BooleanField()
    overdue = serializers.BooleanField(help_text="Waiting longer in its state than the branch's SLA allows.")
    escalated = serializers.BooleanField()
    category = serializers.CharField()
    area = serializers.CharField()
    branch = serializers.IntegerField()
    point = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    created_at = serializers.DateTimeField()
    url = serializers.CharField()


class MapAreaSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    level = serializers.CharField()
    center = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    polygon = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()), allow_null=True, help_text="[[lat, lng], ...]"
    )


class MapVolunteerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    point = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    at = serializers.DateTimeField(help_text="When the phone shared this position.")
    minutes_ago = serializers.IntegerField()
    fresh = serializers.BooleanField(help_text="Recent enough for the matcher to use it.")


class DeskMapSerializer(serializers.Serializer):
    orders = MapOrderSerializer(many=True)
    areas = MapAreaSerializer(many=True)
    volunteers = MapVolunteerSerializer(many=True)


class DeskMapParams(serializers.Serializer):
    branch = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX, required=False)


class DeskMap(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("branch", int, description="Only this one of the caller's branches.")],
        responses=DeskMapSerializer,
        description="The desk's map: its open orders (state, urgent, overdue, the exact point), the outlines "
        "of its grids, and its on-duty volunteers at their last shared position (within the last hour). "
        "Secretaries and staff only; coordinates are WGS-84.",
    )
    def get(self, request: Request) -> Response:
        params = DeskMapParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(desk_map(request.user, branch_id=params.validated_data.get("branch")))
