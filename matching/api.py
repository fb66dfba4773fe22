"""REST endpoints of the matcher (reads only): parse, call one service, render.

- GET  /api/v1/orders/{id}/candidates   ranked volunteers with score and reasons (desk only)
- POST /api/v1/orders/batch/propose     {"orders": [ids]} → the best assignment, unchanged data
(The batch's confirmation dispatches, so it is an orders endpoint: `orders.api.BatchConfirm`.)
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.geo import shown_distance_m
from matching import services
from orders.selectors import MAX_BATCH
from orders.serializers import ID_MAX, ID_MIN
from volunteers.selectors import volunteer_names

MAX_CANDIDATES = 50


class CandidateSerializer(serializers.Serializer):
    """One ranked volunteer. Distance only: a volunteer's coordinates never leave the matcher."""

    volunteer = serializers.IntegerField(source="volunteer_id")
    name = serializers.CharField()
    score = serializers.FloatField()
    scope = serializers.CharField(help_text="branch, community or street: which tier of the scope policy")
    distance_m = serializers.IntegerField()
    reasons = serializers.DictField(child=serializers.FloatField(), help_text="Each component's contribution.")
    details = serializers.DictField(help_text="The facts behind the reasons (load, record, rating...).")


def render_candidates(ranked: list[services.RankedVolunteer]) -> list[dict[str, Any]]:
    names = volunteer_names(r.volunteer_id for r in ranked)
    return [
        {
            "volunteer": r.volunteer_id,
            "name": names.get(r.volunteer_id, ""),
            "score": r.score,
            "scope": r.scope,
            # Rounded like an offer's distance: close enough to choose, not to locate.
            "distance_m": shown_distance_m(r.distance_m),
            "reasons": r.reasons,
            "details": {k: v for k, v in r.details.items() if k != "distance_m"},
        }
        for r in ranked
    ]


class LimitSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_CANDIDATES, default=20)


class OrderCandidates(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description=f"How many (1-{MAX_CANDIDATES}, default 20).")],
        responses=CandidateSerializer(many=True),
        description="Volunteers who may take the order, best first, with each score component's contribution. "
        "Secretaries of the order's branch and staff above it only.",
    )
    def get(self, request: Request, order_id: int) -> Response:
        params = LimitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        ranked = services.candidates_for(user=request.user, order_id=order_id, limit=params.validated_data["limit"])
        return Response(render_candidates(ranked))


class BatchProposeSerializer(serializers.Serializer):
    orders = serializers.ListField(
        child=serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX), min_length=1, max_length=MAX_BATCH
    )


class PairSerializer(serializers.Serializer):
    order = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX)
    volunteer = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX)


class ProposedPairSerializer(PairSerializer):
    score = serializers.FloatField()


class BatchProposalSerializer(serializers.Serializer):
    assignments = ProposedPairSerializer(many=True)
    total_score = serializers.FloatField()
    unassigned = serializers.ListField(child=serializers.IntegerField())
    candidates = serializers.DictField(
        child=CandidateSerializer(many=True), help_text="Each order's ranked candidates, keyed by order id."
    )


class BatchPropose(APIView):
    @extend_schema(
        request=BatchProposeSerializer,
        responses=BatchProposalSerializer,
        description="The assignment of the given accepted orders that maximises the total score within each "
        "volunteer's free capacity, plus each order's ranked candidates so the desk can edit it. Changes nothing.",
    )
    def post(self, request: Request) -> Response:
        body = BatchProposeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        proposal = services.batch_propose(user=request.user, order_ids=body.validated_data["orders"])
        return Response(
            {
                "assignments": [
                    {"order": a.order_id, "volunteer": a.volunteer_id, "score": round(a.score, 6)}
                    for a in proposal.assignments
                ],
                "total_score": round(sum(a.score for a in proposal.assignments), 6),
                "unassigned": proposal.unassigned,
                "candidates": {str(oid): render_candidates(ranked) for oid, ranked in proposal.candidates.items()},
            }
        )
