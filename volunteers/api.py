from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from volunteers.models import Branch, Volunteer
from volunteers.selectors import person_of
from volunteers.services import volunteer_update

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class VolunteerSerializer(serializers.ModelSerializer):
    skills: serializers.RelatedField = serializers.SlugRelatedField(many=True, read_only=True, slug_field="code")
    lat = serializers.SerializerMethodField()
    lng = serializers.SerializerMethodField()
    branches: serializers.RelatedField = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Volunteer
        fields = ["id", "on_duty", "lat", "lng", "skills", "service_radius_km", "capacity", "availability", "branches"]

    @extend_schema_field(serializers.FloatField())
    def get_lat(self, v: Volunteer) -> float:
        return v.live_lat if v.live_lat is not None else v.base_lat

    @extend_schema_field(serializers.FloatField())
    def get_lng(self, v: Volunteer) -> float:
        return v.live_lng if v.live_lng is not None else v.base_lng


class VolunteerUpdateSerializer(serializers.Serializer):
    on_duty = serializers.BooleanField(required=False)
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
    lng = serializers.FloatField(min_value=-180, max_value=180, required=False)
    skills = serializers.ListField(child=serializers.SlugField(max_length=40), required=False, max_length=50)
    service_radius_km = serializers.FloatField(min_value=0.1, max_value=50, required=False)
    capacity = serializers.IntegerField(min_value=1, max_value=20, required=False)
    availability = serializers.DictField(
        child=serializers.ListField(
            child=serializers.ListField(child=serializers.RegexField(r"^\d\d:\d\d$"), min_length=2, max_length=2)
        ),
        required=False,
    )

    def validate_availability(self, value: dict[str, Any]) -> dict[str, Any]:
        unknown = set(value) - set(WEEKDAYS)
        if unknown:
            raise serializers.ValidationError(f"Unknown day: {', '.join(sorted(unknown))}")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lat" in attrs) != ("lng" in attrs):
            raise serializers.ValidationError({"lat": ["Give both lat and lng."]})
        return attrs


class BranchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Branch
        fields = ["id", "name", "kind", "area"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(["resident", "volunteer", "secretary", "staff"]))
    volunteer = VolunteerSerializer(allow_null=True)
    branches = BranchSerializer(many=True)
    areas = serializers.ListField(child=serializers.DictField())


def me_payload(user) -> dict[str, Any]:
    person = person_of(user)
    roles = ["resident"]
    if person.volunteer is not None:
        roles.append("volunteer")
    if person.secretary:
        roles.append("secretary")
    if person.staff_areas:
        roles.append("staff")
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": str(user),
        "roles": roles,
        "volunteer": VolunteerSerializer(person.volunteer).data if person.volunteer else None,
        "branches": BranchSerializer(person.branches, many=True).data,
        "areas": [{"id": a.pk, "name": a.name, "level": a.level} for a in person.staff_areas],
    }


class Me(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(me_payload(request.user))


class MeVolunteer(APIView):
    @extend_schema(request=VolunteerUpdateSerializer, responses=VolunteerSerializer)
    def patch(self, request: Request) -> Response:
        body = VolunteerUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        volunteer = volunteer_update(user=request.user, data=dict(body.validated_data))
        return Response(VolunteerSerializer(volunteer).data)
