"""/open311/v2/: GeoReport v2 (wiki.open311.org/GeoReport_v2). Every resource takes a
format suffix, .xml or .json."""

from django.urls import path, re_path

from open311 import views

app_name = "open311"

FMT = r"\.(?P<fmt>xml|json)$"

urlpatterns = [
    path("", views.root, name="root"),
    re_path(r"^discovery" + FMT, views.discovery, name="discovery"),
    re_path(r"^services" + FMT, views.service_list, name="services"),
    re_path(r"^services/(?P<code>[-\w]{1,40})" + FMT, views.service_definition, name="service"),
    re_path(r"^requests" + FMT, views.requests, name="requests"),
    re_path(r"^requests/(?P<request_id>[^/]{1,40})" + FMT, views.request_detail, name="request"),
    re_path(r"^tokens/(?P<token>[^/]{1,64})" + FMT, views.token, name="token"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
