"""ASGI entry point: HTTP through Django, WebSockets through Channels (daphne serves both)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.conf import settings

from project.lanes import get_http_application

# Django must be set up before anything imports models (consumers do); requests run on a fixed
# set of threads (project/lanes.py).
django_asgi_app = get_http_application(settings.HTTP_THREADS)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from notifications.auth import realtime_auth  # noqa: E402
from notifications.watchdog import RefuseWhileUnavailable  # noqa: E402
from project.runtime import tune_process  # noqa: E402
from sockets.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A handshake that fails on the server (Redis away) is closed with 4013, not an HTTP 500.
        "websocket": AllowedHostsOriginValidator(
            RefuseWhileUnavailable(realtime_auth(URLRouter(websocket_urlpatterns)))
        ),
    }
)
# Last: everything imported so far is frozen out of garbage collection (project/runtime.py).
tune_process()
