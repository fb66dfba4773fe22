"""Sandan settings: one file, read from the environment.

Nothing set gives a checkout that runs as is: SQLite in WAL mode, the in-memory channel
layer, DEBUG on. Production differs only by variables (DATABASE_URL, REDIS_URL, SECRET_KEY,
ALLOWED_HOSTS, DEBUG=0 ...), never by a second settings file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "sandan-insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.headless",
    "channels",
    "accounts",
    "volunteers",
    "orders",
    "matching",
    "notifications",
    "timers",
    "timebank",
    "stats",
    "open311",
    "web",
    "sockets",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # NUL bytes anywhere in the input, and bodies over the limit, refused in one place.
    "project.middleware.RefuseUnstorableInput",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "project.requestmemo.request_memo_middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last, so it sees every 404 of a page (even DEBUG's technical one) and shows our own.
    "web.errors.FriendlyNotFoundMiddleware",
]

# N+1 detection (django-zeal, a development requirement): on under pytest, so a list that reads
# a relation row by row fails the suite (tests/conftest.py turns it on for each test). A known,
# harmless case is allowed where it happens with `zeal.zeal_ignore([{"model": ..., "field": ...}])`,
# or for everyone in ZEAL_ALLOWLIST below, each with a comment saying why (docs/performance.md).
NPLUSONE_CHECK = env_bool("SANDAN_NPLUSONE_CHECK", "pytest" in sys.modules)
if NPLUSONE_CHECK:
    INSTALLED_APPS.append("zeal")
    MIDDLEWARE.append("zeal.middleware.zeal_middleware")
    ZEAL_RAISE = True
    ZEAL_ALLOWLIST: list[dict[str, str]] = []

# The HTTP bench's probe (project/benchprobe.py): per-process request and SQL statement counters
# at /_bench/counters. Only for bench/http_load.py; never set it in production.
BENCH_PROBE = env_bool("SANDAN_BENCH_PROBE", False)
if BENCH_PROBE:
    MIDDLEWARE.insert(0, "project.benchprobe.counters_middleware")

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "web.nav.nav",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite in WAL mode with IMMEDIATE transactions and a busy timeout: two phones claiming at
# once queue for the write lock instead of failing with "database is locked".
SQLITE_PATH = Path(env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")))
_SQLITE = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": SQLITE_PATH,
    "OPTIONS": {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    },
}
DATABASE_URL = env_str("DATABASE_URL")
_prepare_threshold = env_int("DB_PREPARE_THRESHOLD", 5)
DATABASES: dict[str, Any]
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0), conn_health_checks=True
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with psycopg's compiled loaders for timestamps and JSON (core/postgresql).
        DATABASES["default"]["ENGINE"] = "core.postgresql"
    # PostgreSQL through a pool of connections per process (psycopg_pool, Django's `pool`
    # option). Django keeps a connection per thread, and the sockets' queries and the HTTP
    # lanes (HTTP_THREADS) run on threads of their own; before the lanes every request had a
    # new thread and without a pool opened a new connection (docs/performance.md, Realtime).
    _pool_size = env_int("DB_POOL_MAX_SIZE", 20)
    if _pool_size > 0 and DATABASES["default"]["ENGINE"].endswith("postgresql"):
        if DATABASES["default"]["CONN_MAX_AGE"]:
            raise ImproperlyConfigured("DB_CONN_MAX_AGE needs DB_POOL_MAX_SIZE=0: the pool keeps connections itself")
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, _pool_size),
            "max_size": _pool_size,
            # How long a request waits for a free connection before it fails instead of hanging.
            "timeout": env_int("DB_POOL_TIMEOUT", 10),
        }
    # Server-side parameters and prepared statements (psycopg prepares a statement the Nth time
    # a connection runs it): with pooled connections the hot statements are planned once per
    # connection instead of on every run; a dispatch spent a third of its SQL time planning
    # (docs/performance.md). 0 turns it off, e.g. behind PgBouncer in transaction mode.
    if _prepare_threshold > 0 and DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=_prepare_threshold
        )
else:
    DATABASES = {"default": _SQLITE}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
# Whether anything may be prepared on the server, Django's statements or the matcher's own
# (matching/candidates.py): never behind PgBouncer in transaction mode (DB_PREPARE_THRESHOLD=0).
DB_PREPARE_STATEMENTS = IS_POSTGRES and _prepare_threshold > 0

# --- Redis: channel layer and cache ------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# The channel layer's shards: several Redis servers, each group (one per user) on one of them by
# channels-redis' own consistent hash of its name, so every process agrees where a user's group
# lives. The cache stays on REDIS_URL. Unset: the one REDIS_URL (docs/scaling.md).
REDIS_URLS = env_list("REDIS_URLS", []) or ([REDIS_URL] if REDIS_URL else [])
if REDIS_URLS and not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URLS needs REDIS_URL as well (the cache, and the default shard)")
# redis-py's async pool stops at 100 connections by default; a burst of phones connecting at
# once would then fail with MaxConnectionsError. Size it explicitly. channels_redis hands every
# key of a `hosts` dict except "address" to `redis.asyncio.ConnectionPool.from_url`, so these
# reach the pool. The pub/sub layer needs only two connections per process and event loop (one
# SUBSCRIBE connection, one for PUBLISH under a lock); the core layer takes one per concurrent
# group_add/group_send, which is where a connection storm used to hit the cap.
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 1000)
# A Redis that does not answer must fail a push fast (the relay re-sends it), not hang a request.
REDIS_CONNECT_TIMEOUT = env_int("REDIS_CONNECT_TIMEOUT", 5)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": env_str("CHANNEL_BACKEND", "notifications.layers.PubSubChannelLayer"),
            "CONFIG": {
                "hosts": [
                    {
                        "address": url,
                        "max_connections": REDIS_MAX_CONNECTIONS,
                        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
                    }
                    for url in REDIS_URLS
                ],
                "prefix": env_str("CHANNEL_PREFIX", "sandan"),
            },
        }
    }
    CACHES = {
        "default": {
            # Misses instead of errors while Redis is away: REST keeps working (project/cache.py).
            "BACKEND": "project.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_PREFIX", "sandan"),
            "OPTIONS": {"max_connections": REDIS_MAX_CONNECTIONS, "socket_connect_timeout": REDIS_CONNECT_TIMEOUT},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Sessions read from the cache (Redis in production), written through to the database: an
# authenticated request's two session statements (allauth's "does it exist", then the load)
# become one Redis GET when the cache has it. Redis away: the cache misses (project/cache.py)
# and the database answers as before (docs/performance.md).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
HEADLESS_CLIENTS = ("app", "browser")
HEADLESS_ONLY = False
HEADLESS_TOKEN_STRATEGY = "accounts.tokens.OneReadSessionTokens"  # noqa: S105 (a class, not a secret)

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "allauth.headless.contrib.rest_framework.authentication.XSessionTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "project.errors.api_exception_handler",
    # limit/offset, bounded (project/pagination.py); views take it from here.
    "DEFAULT_PAGINATION_CLASS": "project.pagination.Pagination",
    "DEFAULT_THROTTLE_RATES": {
        "realtime_ticket": env_str("REALTIME_TICKET_RATE", "60/minute"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sandan API",
    "DESCRIPTION": "Realtime volunteer matching: residents order, branches dispatch, volunteers claim.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Error responses and the bounds of limit/offset, declared for every endpoint (project/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "project.schema.declare_errors",
    ],
}
# Bodies above this are refused before they are parsed (attachments have their own limit).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Orders -----------------------------------------------------------------------------------
SANDAN: dict[str, Any] = {
    # Days after completion within which a resident may still reopen, and after which the
    # system confirms on their behalf.
    "CONFIRM_DAYS": env_int("SANDAN_CONFIRM_DAYS", 7),
    "MAX_PHOTO_BYTES": env_int("SANDAN_MAX_PHOTO_BYTES", 8 * 1024 * 1024),
    "MAX_AUDIO_BYTES": env_int("SANDAN_MAX_AUDIO_BYTES", 4 * 1024 * 1024),
    "MAX_AUDIO_SECONDS": env_int("SANDAN_MAX_AUDIO_SECONDS", 120),
    # Pixels a photo may decode to: a phone's 12-megapixel picture fits, a small file that
    # decodes to a huge bitmap (a decompression bomb) is refused before it is decoded.
    # Pillow's own limit is about 89 million; decoding 36 million took 0.76 s and 108 MB.
    "MAX_PHOTO_PIXELS": env_int("SANDAN_MAX_PHOTO_PIXELS", 16_000_000),
    "MAX_ATTACHMENTS_PER_ORDER": 6,
    # The volunteer who did an order sees the resident's phone, address and name until this
    # many hours after it is closed; then it stays in their history without them.
    "CONTACT_HOURS_AFTER_CLOSE": env_int("SANDAN_CONTACT_HOURS_AFTER_CLOSE", 24),
    # Orders one resident may post (app, pages, Open311) in a sliding window; 429 beyond it.
    # Decided in the database under a lock on the resident (orders/limits.py), never in Redis.
    "ORDER_SUBMIT_RATE": env_str("ORDER_SUBMIT_RATE", "20/hour"),
    # "Already reported nearby?": open requests of the same category within this many metres
    # are shown to a resident writing a request (orders/duplicates.py).
    "NEARBY_METRES": env_int("SANDAN_NEARBY_METRES", 300),
    # The desk's likely duplicates: same category, within DUPLICATE_METRES, submitted within
    # DUPLICATE_DAYS of each other, and texts at least DUPLICATE_SIMILARITY alike (0-1, the
    # Dice score of characters and character bigrams; chosen on the synthetic pairs of bench/duplicates.py).
    "DUPLICATE_METRES": env_int("SANDAN_DUPLICATE_METRES", 300),
    "DUPLICATE_DAYS": env_int("SANDAN_DUPLICATE_DAYS", 7),
    "DUPLICATE_SIMILARITY": float(env_str("SANDAN_DUPLICATE_SIMILARITY", "0.15")),
    # Seconds a scope's statistics (GET /api/v1/stats, the dashboard) are served from the
    # cache before they are computed again (stats/cache.py); 0 computes them on every read.
    "STATS_CACHE_SECONDS": env_int("SANDAN_STATS_CACHE_SECONDS", 30),
}

# --- Maps (web/static/web/map.js, docs/pages.md) -----------------------------------------------
# Tiles from a URL template ("https://tiles.example.org/{z}/{x}/{y}.png"); none set (the demo,
# the tests, an office without internet) draws the grids and markers on a plain background.
MAP_TILE_URL = env_str("MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION", "")
# The datum the tiles are drawn in: "wgs84" (OpenStreetMap and most others) or "gcj02" (every
# provider licensed in mainland China): points are shifted for display and pins shifted back
# (core/gcj02.py). Coordinates are stored in WGS-84 whatever this says.
MAP_TILE_CRS = env_str("MAP_TILE_CRS", "wgs84").lower()
if MAP_TILE_CRS not in {"wgs84", "gcj02"}:
    raise ImproperlyConfigured(f"MAP_TILE_CRS must be wgs84 or gcj02, got {MAP_TILE_CRS!r}")

# --- Open311 GeoReport v2 (docs/open311.md) ----------------------------------------------------
# The one jurisdiction served at /open311/v2/; a request naming another gets the spec's 404.
OPEN311_JURISDICTION = env_str("OPEN311_JURISDICTION", "sandan.local")

# --- Realtime (sockets.consumers) --------------------------------------------------------------
REALTIME = {
    # How far back `resume` replays the outbox; a client whose gap is older gets `resync`.
    "RETENTION_DAYS": env_int("REALTIME_RETENTION_DAYS", 7),
    # A resume that would replay more than this gets `resync` too: reloading by REST is cheaper.
    "RESUME_MAX_EVENTS": env_int("REALTIME_RESUME_MAX_EVENTS", 1000),
    "TICKET_SECONDS": env_int("REALTIME_TICKET_SECONDS", 60),
    # At most one stored location per volunteer per this many seconds, across all their sockets.
    "LOCATION_MIN_SECONDS": env_int("REALTIME_LOCATION_MIN_SECONDS", 5),
    "MAX_FRAME_BYTES": env_int("REALTIME_MAX_FRAME_BYTES", 4096),
    # Per-socket token bucket for client frames: sustained rate and burst.
    "FRAMES_PER_SECOND": env_int("REALTIME_FRAMES_PER_SECOND", 10),
    "FRAME_BURST": env_int("REALTIME_FRAME_BURST", 30),
    # Every this many seconds each daphne process checks Redis; when it went away (or restarted)
    # the process closes its sockets with 4012 so that phones reconnect and resume. 0 = off.
    "REDIS_WATCHDOG_SECONDS": env_int("REALTIME_REDIS_WATCHDOG_SECONDS", 2),
    # Handshakes a process works on at once; the rest wait their turn (notifications/watchdog.py).
    "HANDSHAKE_CONCURRENCY": env_int("REALTIME_HANDSHAKE_CONCURRENCY", 128),
    # Daphne processes (project/runtime.py): the young-generation GC threshold, with startup
    # objects frozen, and the GIL switch interval in ms (Python's is 5). 0 keeps Python's default.
    "GC_THRESHOLD": env_int("REALTIME_GC_THRESHOLD", 10_000),
    "SWITCH_INTERVAL_MS": env_int("REALTIME_SWITCH_INTERVAL_MS", 1),
}

# Threads that run HTTP requests in each daphne process (project/lanes.py): a request borrows one
# for its lifetime instead of Django starting a thread for every request. Keep it below
# DB_POOL_MAX_SIZE. 0 = Django's own handler (a new thread per request).
HTTP_THREADS = env_int("HTTP_THREADS", 4)

# --- SLA timers and notification delivery (timers/, notifications/delivery/) ----------------------
# Defaults in minutes; a branch overrides any of them in `Branch.sla` ({"review": 30, ...}).
SANDAN_TIMERS = {
    # The SLA periods (orders/sla.py): each step of an order against its limit, in minutes.
    "REVIEW_MINUTES": env_int("SANDAN_REVIEW_MINUTES", 60),  # submitted, not reviewed → escalate
    "DISPATCH_MINUTES": env_int("SANDAN_DISPATCH_MINUTES", 60),  # accepted, not dispatched → overdue
    "OFFER_MINUTES": env_int("SANDAN_OFFER_MINUTES", 10),  # offered, not claimed → widen
    "START_MINUTES": env_int("SANDAN_START_MINUTES", 120),  # claimed, not started → remind; twice → release
    "COMPLETE_MINUTES": env_int("SANDAN_COMPLETE_MINUTES", 480),  # started, not completed → overdue
    "CONFIRM_MINUTES": env_int("SANDAN_CONFIRM_MINUTES", SANDAN["CONFIRM_DAYS"] * 24 * 60),  # → close
    # A worker's claim on a step; after this another worker takes the step over.
    "LEASE_SECONDS": env_int("SANDAN_TIMER_LEASE_SECONDS", 60),
    "MAX_ATTEMPTS": env_int("SANDAN_TIMER_MAX_ATTEMPTS", 5),
    "TICK_SECONDS": env_int("SANDAN_TIMER_TICK_SECONDS", 5),
    "BROADCAST_LIMIT": env_int("SANDAN_BROADCAST_LIMIT", 200),
    # Local hour at which the worker sends the daily desk digest; -1 = only by the command.
    "DIGEST_HOUR": env_int("SANDAN_DIGEST_HOUR", 8),
}
# The single-process demo runs the worker loop inside daphne (timers/embedded.py), because
# the in-memory channel layer reaches only the sockets of its own process.
SANDAN_EMBEDDED_WORKER = env_bool(
    "SANDAN_EMBEDDED_WORKER", not DATABASE_URL and "pytest" not in sys.modules and "test" not in sys.argv[1:2]
)
# Web Push (VAPID): base64url raw keys; without them no push is sent (the delivery log says so).
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY")
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY")
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "mailto:sandan@localhost")
SMS_BACKEND = env_str("SMS_BACKEND", "notifications.delivery.sms.ConsoleSmsBackend")

# --- I18N -------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("zh-hant", _("Traditional Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Files ------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Uploads live outside the static root and have no public URL: they are served only through
# an authorised view (orders.views.attachment_download).
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "sandan@localhost")

# --- Security (production) ----------------------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
