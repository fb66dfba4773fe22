from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.api import LoginView


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("api/v1/", include("project.api_urls")),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    # allauth's login, its lockout answered 429 with Retry-After (accounts/api.py).
    path("_allauth/app/v1/auth/login", LoginView.as_api_view(client="app")),
    path("_allauth/browser/v1/auth/login", LoginView.as_api_view(client="browser")),
    path("_allauth/", include("allauth.headless.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("stats/", include("stats.urls")),
    path("timebank/", include("timebank.urls")),
    path("open311/v2/", include("open311.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health, name="health"),
    path("", include("web.urls")),
]

if settings.BENCH_PROBE:
    from project.benchprobe import counters

    urlpatterns.insert(0, path("_bench/counters", counters))

handler404 = "web.errors.page_not_found"
