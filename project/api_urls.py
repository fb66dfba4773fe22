"""/api/v1: the versioned contract for phone apps (docs/api.md)."""

from django.urls import path, re_path

import core.ids  # noqa: F401 (registers the <id:...> path converter)
from matching.api import BatchPropose, OrderCandidates
from notifications.api import NotificationList, NotificationRead, RealtimeTicket
from notifications.delivery.api import NotificationPreferences, PushSubscriptions
from orders.api import (
    AttachmentDownload,
    AttachmentUpload,
    BatchConfirm,
    CategoryList,
    NearbyOrders,
    OfferList,
    OrderAction,
    OrderDetail,
    OrderDuplicates,
    OrderFollow,
    OrderListCreate,
    TimebankAdjust,
)
from project.errors import api_not_found
from stats.api import ReviewRecord, ReviewSampleList, Stats
from timebank.api import ItemList, Leaderboard, MeTimebank, Redeem
from volunteers.api import Me, MeVolunteer
from web.api import DeskMap

urlpatterns = [
    path("me", Me.as_view(), name="me"),
    path("me/volunteer", MeVolunteer.as_view(), name="me-volunteer"),
    path("me/notification-preferences", NotificationPreferences.as_view(), name="me-notification-preferences"),
    path("me/push-subscriptions", PushSubscriptions.as_view(), name="me-push-subscriptions"),
    path("me/timebank", MeTimebank.as_view(), name="me-timebank"),
    path("timebank/items", ItemList.as_view(), name="timebank-items"),
    path("timebank/redeem", Redeem.as_view(), name="timebank-redeem"),
    path("timebank/adjust", TimebankAdjust.as_view(), name="timebank-adjust"),
    path("timebank/leaderboard", Leaderboard.as_view(), name="timebank-leaderboard"),
    path("stats", Stats.as_view(), name="stats"),
    path("stats/samples", ReviewSampleList.as_view(), name="stats-samples"),
    path("stats/reviews/<id:item_id>", ReviewRecord.as_view(), name="stats-review"),
    path("categories", CategoryList.as_view(), name="categories"),
    path("orders", OrderListCreate.as_view(), name="orders"),
    path("orders/nearby", NearbyOrders.as_view(), name="orders-nearby"),
    path("orders/<id:order_id>", OrderDetail.as_view(), name="order-detail"),
    path("orders/<id:order_id>/follow", OrderFollow.as_view(), name="order-follow"),
    path("orders/<id:order_id>/duplicates", OrderDuplicates.as_view(), name="order-duplicates"),
    path("orders/<id:order_id>/attachments", AttachmentUpload.as_view(), name="order-attachments"),
    path("orders/<id:order_id>/candidates", OrderCandidates.as_view(), name="order-candidates"),
    path("orders/batch/propose", BatchPropose.as_view(), name="orders-batch-propose"),
    path("orders/batch/confirm", BatchConfirm.as_view(), name="orders-batch-confirm"),
    path("orders/<id:order_id>/<slug:action>", OrderAction.as_view(), name="order-action"),
    path("attachments/<str:token>", AttachmentDownload.as_view(), name="attachment"),
    path("offers", OfferList.as_view(), name="offers"),
    path("desk/map", DeskMap.as_view(), name="desk-map"),
    path("notifications", NotificationList.as_view(), name="notifications"),
    path("notifications/read", NotificationRead.as_view(), name="notifications-read"),
    path("realtime/ticket", RealtimeTicket.as_view(), name="realtime-ticket"),
    # Last: every other /api/v1/ path is the API's JSON 404.
    re_path(r"^", api_not_found, name="api-not-found"),
]
