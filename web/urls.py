"""The server-rendered pages: resident, volunteer, desk (secretary and staff)."""

from django.urls import path

import core.ids  # noqa: F401 (registers the <id:...> path converter)
from web import timebank_desk, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/", views.my_orders, name="my-orders"),
    path("orders/new", views.order_new, name="order-new"),
    path("orders/nearby", views.order_nearby, name="order-nearby"),
    path("orders/call-me", views.order_call_me, name="order-call-me"),
    path("me/large-type", views.large_type, name="large-type"),
    path("orders/<id:order_id>/", views.order_page, name="order"),
    path("orders/<id:order_id>/follow", views.order_follow, name="order-follow"),
    path("orders/<id:order_id>/<slug:action>", views.order_act, name="order-act"),
    path("volunteer/", views.volunteer_home, name="volunteer"),
    path("volunteer/duty", views.volunteer_duty, name="volunteer-duty"),
    path("volunteer/hours", views.volunteer_hours, name="volunteer-hours"),
    path("desk/", views.desk, name="desk"),
    path("desk/orders/", views.desk_orders, name="desk-orders"),
    path("desk/orders/export.<str:fmt>", views.desk_orders_export, name="desk-orders-export"),
    # Beside the time bank's own pages (timebank/urls.py), which do not claim this path.
    path("timebank/manage/", timebank_desk.manage, name="timebank-desk"),
    path("sw.js", views.service_worker, name="sw"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("offline", views.offline, name="offline"),
]
