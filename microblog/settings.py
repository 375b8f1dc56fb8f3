"""Settings for the microblog, read from environment variables.

Every variable has a default that is safe on a newcomer's laptop: SQLite, the in-process
cache and eager Celery tasks. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and
Redis. Values that only production needs (a real ``SECRET_KEY``) are refused when missing,
never guessed.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no environment variable ("1", "true", "yes", "on" mean yes)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """Read an integer environment variable, refusing garbage with a clear message."""
    value = os.environ.get(name, "")
    if value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable into a list of non-empty items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)

# A placeholder or missing key is only acceptable while developing (DEBUG on).
_INSECURE_KEYS = {"", "change-me", "changeme", "secret", "django-insecure"}
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if SECRET_KEY.strip() in _INSECURE_KEYS or len(SECRET_KEY) < 32:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random string of at least 32 characters when DEBUG is "
            "off. Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "django-insecure-development-only-key-" + "x" * 32

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# How many reverse proxies in front of us append to X-Forwarded-For. 0 means trust nobody:
# the client IP is REMOTE_ADDR, and a client can never choose its own IP.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

INSTALLED_APPS = [
    "microblog.admin_site.MicroblogAdminConfig",  # django.contrib.admin + the review pages
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "accounts",
    "feeds",
    "access",
    "verification",
    "leaks",
    "licensing",
    "api",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything that may answer: a preflight or a refusal still carries the CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Refuses blocked IP prefixes (set by reviewers) before any session or auth work.
    "access.ipblock.IPBlockMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's own; the session's user and tier come from the cache through the backend
    # (accounts/session_auth.py): no user or tier query on a page, every change seen at once.
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Too many query parameters, oversized or non-UTF-8 bodies: a clear 4xx, DEBUG on or off.
    "core.request_input.RequestInputMiddleware",
    "access.middleware.ReadBudgetHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-csp's, with the site's policy built once rather than on every response.
    "core.content_security.CSPMiddleware",
]

ROOT_URLCONF = "microblog.urls"
WSGI_APPLICATION = "microblog.wsgi.application"
ASGI_APPLICATION = "microblog.asgi.application"

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
                "access.context_processors.read_meter",
                "feeds.context_processors.notifications_unread",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
    # The pages' prepared statements (core/prepared.py) run their generic plan from the first
    # execution: PostgreSQL's default ("auto") plans the first five with the values (2-8 ms
    # each for a page statement, again on every new connection) and keeps planning an account's
    # timeline on every request, with a worse plan (docs/performance.md, "Issue 16"). Only
    # prepared statements follow this; "auto" restores PostgreSQL's choice.
    DATABASE_PLAN_CACHE_MODE = os.environ.get("DATABASE_PLAN_CACHE_MODE", "force_generic_plan")
    if DATABASE_PLAN_CACHE_MODE not in {"auto", "force_generic_plan", "force_custom_plan"}:
        raise ImproperlyConfigured(
            "DATABASE_PLAN_CACHE_MODE must be 'auto', 'force_generic_plan' or "
            f"'force_custom_plan', got {DATABASE_PLAN_CACHE_MODE!r}"
        )
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        # Set at connection start-up (libpq ``options``): no round trip, and no transaction's
        # rollback can undo it.
        _plan_cache = f"-c plan_cache_mode={DATABASE_PLAN_CACHE_MODE}"
        _options["options"] = " ".join(filter(None, [_options.get("options"), _plan_cache]))
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                # WAL lets readers run beside one writer; IMMEDIATE takes the write lock at
                # BEGIN so concurrent writers queue instead of failing with "database is locked".
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# Django's ModelBackend with the session's user read through the cache (accounts/session_auth.py).
# Sessions name their backend: ones made under django.contrib.auth.backends.ModelBackend
# (before this backend) are logged out once and log in again.
AUTHENTICATION_BACKENDS = ["accounts.session_auth.CachedUserBackend"]

# --- Cache --------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "microblog"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Fail fast when Redis hangs instead of stopping: the read gate then falls
                # back or fails closed (docs/read-budgets.md) rather than stalling requests.
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
    # Rendered statuses and post fragments (core/render_cache.py): rebuildable, so they may
    # live on their own Redis (RENDER_CACHE_URL) with an eviction policy the ledger must not.
    CACHES["render"] = {
        **CACHES["default"],
        "LOCATION": os.environ.get("RENDER_CACHE_URL", "") or REDIS_URL,
        "KEY_PREFIX": CACHES["default"]["KEY_PREFIX"] + "-render",
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "render": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "render",
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        },
    }
# The render cache (statuses and post fragments built once) and the API token cache; off
# (RENDER_CACHE=0) every request builds everything from the database, as benchmarks compare.
RENDER_CACHE = env_bool("RENDER_CACHE", default=True)
RENDER_CACHE_SECONDS = env_int("RENDER_CACHE_SECONDS", 6 * 60 * 60)
# Renderings each web process also keeps in memory (keys name their content: never stale).
RENDER_CACHE_LOCAL_ENTRIES = env_int("RENDER_CACHE_LOCAL_ENTRIES", 5000)
# How long a token's user and tier may be reused at most; every change invalidates it at once
# (accounts/auth_cache.py), this only bounds an entry whose invalidation Redis lost.
AUTH_CACHE_SECONDS = env_int("AUTH_CACHE_SECONDS", 5 * 60)
AUTH_CACHE_LOCAL_ENTRIES = env_int("AUTH_CACHE_LOCAL_ENTRIES", 5000)

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "") or REDIS_URL
# Without a broker, tasks run eagerly in-process so `make run` needs nothing else.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}

# --- Auth ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "feeds:home"
LOGOUT_REDIRECT_URL = "feeds:public"
# A password-reset link works once (it is signed over the password hash) and for 1 hour.
PASSWORD_RESET_TIMEOUT = 60 * 60

# --- Internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True  # serve from app folders too, so no collectstatic is needed

# --- Uploaded media (profile images, images on posts) ---------------------------------------
# Through the "default" storage above: local files here on the embedded default, served by
# accounts/media_views.py and feeds/media_views.py (the app checks what it serves; no
# web-server alias needed). With MEDIA_S3_BUCKET set, the default storage is S3-compatible
# object storage (django-storages, boto3): AWS S3, MinIO, Ceph, … at AWS_S3_ENDPOINT_URL.
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media"))
MEDIA_URL = "/media/"
MEDIA_S3_BUCKET = os.environ.get("MEDIA_S3_BUCKET", "")
if MEDIA_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            # Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (boto3 reads them).
            "file_overwrite": False,  # names are random; never replace a stored file
            "default_acl": None,  # the bucket stays private: the app serves every file
        },
    }
PROFILE_IMAGE_MAX_BYTES = env_int("PROFILE_IMAGE_MAX_BYTES", 2 * 1024 * 1024)  # Mastodon's 2 MB
# Decoding stops above this many pixels (decompression bombs); Mastodon's limit is similar.
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 4096 * 4096)
# Images on posts (feeds/media.py): Mastodon's 16 MB would let four of them make a 64 MB
# request; 10 MB is plenty for a phone photo.
MEDIA_IMAGE_MAX_BYTES = env_int("MEDIA_IMAGE_MAX_BYTES", 10 * 1024 * 1024)
MEDIA_PER_POST = 4  # Mastodon's limit
MEDIA_IMAGE_MAX_SIDE = env_int("MEDIA_IMAGE_MAX_SIDE", 1920)  # the stored image's long side
MEDIA_THUMBNAIL_SIDE = env_int("MEDIA_THUMBNAIL_SIDE", 400)  # the preview's long side
MEDIA_UNATTACHED_HOURS = env_int("MEDIA_UNATTACHED_HOURS", 24)  # then unposted uploads go
# Signed image URLs are valid to the end of the next bucket (1-2 h), the same URL within one.
MEDIA_URL_BUCKET_SECONDS = env_int("MEDIA_URL_BUCKET_SECONDS", 3600)
# Behind nginx: hand files off with X-Accel-Redirect to this internal location (e.g.
# "/protected-media/" aliased to MEDIA_ROOT) after the app has checked the signature.
MEDIA_X_ACCEL_PREFIX = os.environ.get("MEDIA_X_ACCEL_PREFIX", "")
CELERY_BEAT_SCHEDULE["feeds-purge-unattached-media"] = {
    "task": "feeds.tasks.media_unattached_purge_task",
    "schedule": 60 * 60.0,
}
# Only these routes take bodies past DATA_UPLOAD_MAX_MEMORY_SIZE (core/request_input.py),
# each up to its limit: two profile images, one image on a post, or the composer's four,
# and the form around them.
_FORM_ROOM = 64 * 1024
UPLOAD_PATHS = {
    "/accounts/settings/": 2 * PROFILE_IMAGE_MAX_BYTES + _FORM_ROOM,
    "/api/v1/accounts/update_credentials": 2 * PROFILE_IMAGE_MAX_BYTES + _FORM_ROOM,
    "/api/v1/media": MEDIA_IMAGE_MAX_BYTES + _FORM_ROOM,
    "/api/v2/media": MEDIA_IMAGE_MAX_BYTES + _FORM_ROOM,
    "/posts/new/": MEDIA_PER_POST * MEDIA_IMAGE_MAX_BYTES + _FORM_ROOM,
}

# --- Security -----------------------------------------------------------------------------
# Production defaults (DEBUG off): HTTPS only, HSTS for a year, secure cookies. Behind a
# TLS-terminating proxy set TRUSTED_PROXY_COUNT so X-Forwarded-Proto is believed.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load-balancer probes speak plain HTTP
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# Sessions are read from Redis and written through to the database (accounts/sessions.py:
# Django's cached_db, falling back to the database when Redis fails), so a page costs no
# session query. Only with Redis: an in-process cache is not shared, and a logout in one
# process must end the session in every other.
SESSION_ENGINE = "accounts.sessions" if REDIS_URL else "django.contrib.sessions.backends.db"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024  # posts are 500 characters; nothing needs more
# Content-Security-Policy (django-csp): no inline or third-party script anywhere; every asset
# is served by the app itself. Inline style attributes stay allowed (the admin uses them).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# CORS (django-cors-headers) for browser clients (Elk, Phanpy) on other origins: "*" on the
# API, the token and revocation endpoints and the metadata documents; never credentials, so a
# page elsewhere cannot ride a logged-in session. The consent page itself stays same-origin.
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_URLS_REGEX = r"^/(api/|oauth/token$|oauth/revoke$|\.well-known/|nodeinfo/)"
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "user-agent",
    "x-requested-with",
]
CORS_EXPOSE_HEADERS = [
    "Link",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]

# --- Email --------------------------------------------------------------------------------
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "microblog@localhost")

# --- Product rules ------------------------------------------------------------------------
POST_MAX_CHARACTERS = 500
# OAuth (accounts/oauth): authorization codes are single-use and short-lived (RFC 9700).
OAUTH_CODE_LIFETIME_SECONDS = env_int("OAUTH_CODE_LIFETIME_SECONDS", 300)
NEW_ACCOUNT_DAYS = env_int("NEW_ACCOUNT_DAYS", 30)  # accounts younger than this are tier "new"
# Whether posts may train AI models when their author has not said (docs/licensing.md):
# "disallow" (the default) or "allow". Every response carrying posts states the strictest.
AI_TRAINING_DEFAULT = os.environ.get("AI_TRAINING_DEFAULT", "disallow").strip().lower()
if AI_TRAINING_DEFAULT not in ("allow", "disallow"):
    raise ImproperlyConfigured('AI_TRAINING_DEFAULT must be "allow" or "disallow".')
# Logged-out reading per feed (access/reading_policy.py): "public" (within the anonymous
# budget), "authenticated" (login wall) or, for the public timeline, "disabled" (staff only).
LOGGED_OUT_READING = {
    "public_timeline": os.environ.get("LOGGED_OUT_PUBLIC_TIMELINE", "public"),
    "profiles": os.environ.get("LOGGED_OUT_PROFILES", "public"),
    "posts": os.environ.get("LOGGED_OUT_POSTS", "public"),
}
for _feed, _policy in LOGGED_OUT_READING.items():
    _allowed = ("public", "authenticated", "disabled")[: 3 if _feed == "public_timeline" else 2]
    if _policy not in _allowed:
        raise ImproperlyConfigured(
            f"LOGGED_OUT_{_feed.upper()} must be one of {', '.join(_allowed)}; got {_policy!r}"
        )
TIMELINE_PAGE_SIZE = 20
# Home timelines materialised on write in Redis (feeds/home_feed.py, docs/architecture.md):
# "auto" = when REDIS_URL is set, "on", or "off" (every page from the database). The embedded
# default has no Redis, so its home pages always come from the database.
HOME_FEED = os.environ.get("HOME_FEED", "auto")
if HOME_FEED not in {"auto", "on", "off"}:
    raise ImproperlyConfigured(f"HOME_FEED must be 'auto', 'on' or 'off', got {HOME_FEED!r}")
if HOME_FEED == "on" and not REDIS_URL:
    raise ImproperlyConfigured("HOME_FEED=on needs REDIS_URL=redis://…")
# Entries kept per reader (Mastodon keeps 800); pages past them come from the database.
HOME_FEED_MAX_ENTRIES = env_int("HOME_FEED_MAX_ENTRIES", 800)
# Followers per fan-out task (a post by a popular author is split across tasks), and readers
# per Redis pipeline inside one task.
HOME_FEED_FANOUT_BATCH = env_int("HOME_FEED_FANOUT_BATCH", 2000)
HOME_FEED_PIPELINE = env_int("HOME_FEED_PIPELINE", 500)
# A push trims a set only once it is this many entries over the cap (amortised trimming).
HOME_FEED_TRIM_SLACK = env_int("HOME_FEED_TRIM_SLACK", 50)
# A rebuild that never finishes (its worker died) leaves the reader cold again after this.
HOME_FEED_REBUILD_SECONDS = 60
# How long a materialised timeline lives after it was built (then it is cold again and is
# rebuilt at its reader's next visit): idle readers cost no memory after a week.
HOME_FEED_TTL_SECONDS = env_int("HOME_FEED_TTL_SECONDS", 7 * 24 * 3600)
# Names nobody may register: they collide with our URLs or impersonate the service.
RESERVED_USERNAMES = {
    "about", "accounts", "admin", "administrator", "api", "auth", "help", "home", "login",
    "logout", "me", "microblog", "moderator", "null", "oauth", "post", "posts", "public",
    "root", "settings", "signup", "static", "staff", "support", "system", "tags", "u",
    "undefined", "users", "www",
}  # fmt: skip

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "api.openapi.ApiAutoSchema",
    # Bearer tokens first: its WWW-Authenticate makes missing credentials a 401, as Mastodon.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "api.permissions.TokenHasScope",
        "api.permissions.FeedReadingPolicy",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "api.renderers.JSONRenderer",  # DRF's, encoding with orjson
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",  # DRF's, with deeply nested JSON a 400
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "UNICODE_JSON": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Microblog API",
    "DESCRIPTION": (
        "Mastodon-compatible client API with metered, audited reads. Authenticate with "
        "`Authorization: Bearer <token>` (Settings → Developer). Every operation that returns "
        "statuses draws from the caller's daily read budget and may answer 429."
    ),
    "VERSION": "1.0.0",
    # 3.1: schemas are JSON Schema, so the tests validate responses with jsonschema directly.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StatusVisibilityEnum": ["public"],
        "PostVisibilityEnum": ["public", "unlisted"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Paid verification (accounts/) ---------------------------------------------------------
# Which payment provider sells verification: "dev" (a local TEST MODE checkout page, no
# network, never for production) or "stripe" (Stripe Checkout + webhooks).
PAYMENTS_PROVIDER = os.environ.get("PAYMENTS_PROVIDER", "dev").strip().lower() or "dev"
if PAYMENTS_PROVIDER not in {"dev", "stripe"}:
    raise ImproperlyConfigured(
        f"PAYMENTS_PROVIDER must be 'dev' or 'stripe', got {PAYMENTS_PROVIDER!r}"
    )
# The dev provider verifies anyone who presses Pay, so with DEBUG off it is refused unless
# PAYMENTS_DEV_ALLOWED=1 says this server is a demo that may give verification away.
PAYMENTS_DEV_ALLOWED = env_bool("PAYMENTS_DEV_ALLOWED", default=False)
if PAYMENTS_PROVIDER == "dev" and not DEBUG and not PAYMENTS_DEV_ALLOWED:
    raise ImproperlyConfigured(
        "PAYMENTS_PROVIDER is 'dev' (the default) with DEBUG off: its TEST MODE checkout "
        "verifies anyone for free. Set PAYMENTS_PROVIDER=stripe with STRIPE_SECRET_KEY and "
        "STRIPE_WEBHOOK_SECRET (docs/verification.md), or PAYMENTS_DEV_ALLOWED=1 if this "
        "server is a demo."
    )
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
if PAYMENTS_PROVIDER == "stripe" and not (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "PAYMENTS_PROVIDER=stripe needs STRIPE_SECRET_KEY (sk_test_… or sk_live_…) and "
        "STRIPE_WEBHOOK_SECRET (whsec_…). See docs/verification.md."
    )
VERIFICATION_MIN_ACCOUNT_AGE_DAYS = env_int("VERIFICATION_MIN_ACCOUNT_AGE_DAYS", 7)
VERIFICATION_GRACE_DAYS = env_int("VERIFICATION_GRACE_DAYS", 3)  # past due → lapsed after this
EMAIL_CONFIRMATION_DAYS = env_int("EMAIL_CONFIRMATION_DAYS", 3)  # a confirmation link's life
# Where links in emails point when no request is at hand (e.g. mail sent from a task).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

# Email: the console backend by default; EMAIL_URL=smtp://user:pass@host:587?tls=True (or
# smtps://… for implicit TLS) sends real mail through that server.
EMAIL_URL = os.environ.get("EMAIL_URL", "")
if EMAIL_URL:
    import dj_email_url

    _email = dj_email_url.parse(EMAIL_URL)
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"]
    EMAIL_PORT = _email["EMAIL_PORT"]
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
    EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
    EMAIL_TIMEOUT = _email["EMAIL_TIMEOUT"] or 10

# Lapse past-due subscriptions and end cancelled ones whose period is over (idempotent).
CELERY_BEAT_SCHEDULE["accounts-expire-subscriptions"] = {
    "task": "accounts.tasks.subscriptions_expire_task",
    "schedule": 15 * 60.0,
}
CELERY_BEAT_SCHEDULE["accounts-confirmation-catch-up"] = {
    "task": "accounts.tasks.email_confirmations_catch_up_task",
    "schedule": 5 * 60.0,
}

# --- Access controls (access/) -------------------------------------------------------------
# Read budgets: what the read gate does. "enforce" (default) refuses reads past the budget;
# "dry-run" charges and logs what would be refused but delivers everything; "off" charges
# nothing at all (benchmarks only). See docs/read-budgets.md.
ACCESS_ENFORCEMENT = os.environ.get("ACCESS_ENFORCEMENT", "enforce").strip().lower() or "enforce"
if ACCESS_ENFORCEMENT not in {"enforce", "dry-run", "off"}:
    raise ImproperlyConfigured(
        f"ACCESS_ENFORCEMENT must be 'enforce', 'dry-run' or 'off', got {ACCESS_ENFORCEMENT!r}"
    )
# Which ledger counts reads: "auto" (Redis when REDIS_URL is set, else the database),
# "redis" or "database".
ACCESS_LEDGER = os.environ.get("ACCESS_LEDGER", "auto").strip().lower() or "auto"
if ACCESS_LEDGER not in {"auto", "redis", "database"}:
    raise ImproperlyConfigured(
        f"ACCESS_LEDGER must be 'auto', 'redis' or 'database', got {ACCESS_LEDGER!r}"
    )
if ACCESS_LEDGER == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("ACCESS_LEDGER=redis needs REDIS_URL=redis://…")
# Redis keys are "<prefix>:reads:<principal>:<YYYYMMDD>"; empty means the cache's KEY_PREFIX.
ACCESS_REDIS_KEY_PREFIX = os.environ.get("ACCESS_REDIS_KEY_PREFIX", "")
# When Redis is unreachable these tiers are refused (fail closed, 429 with a short
# Retry-After); every other tier falls back to the database ledger so reads stay bounded.
ACCESS_REDIS_DOWN_FAIL_CLOSED_TIERS = ("anonymous", "new", "restricted")
ACCESS_LEDGER_UNAVAILABLE_RETRY_AFTER = env_int("ACCESS_LEDGER_UNAVAILABLE_RETRY_AFTER", 60)
# Past days of the database ledger kept before the purge task deletes them.
ACCESS_LEDGER_RETENTION_DAYS = env_int("ACCESS_LEDGER_RETENTION_DAYS", 2)
CELERY_BEAT_SCHEDULE["access-purge-read-ledger"] = {
    "task": "access.tasks.read_ledger_purge_task",
    "schedule": 60 * 60.0,
}

# --- Detection (access/) --------------------------------------------------------------------
# Thresholds of the bulk-access detectors (access/detectors.py, docs/audit.md). A rule fires
# when its figure reaches the threshold within its window; the score is 50 at the threshold
# and 100 at twice it.
ACCESS_DETECTORS = {
    # Reached 0 remaining or was refused at least this often in the window.
    "budget_exhausted": {"window_minutes": 24 * 60, "min_exhausted_requests": 1},
    # Posts delivered per minute, averaged over the window.
    "read_velocity": {"window_minutes": 5, "posts_per_minute": 60},
    # Requests carrying max_id (following "older posts") within the window.
    "deep_paging": {"window_minutes": 10, "min_max_id_requests": 15},
    # Single-post requests whose ids form a near-sequence (gaps of at most max_gap).
    "sequential_ids": {"window_minutes": 10, "min_run": 20, "max_gap": 3},
    # Distinct accounts reading from one IPv4 /24 or IPv6 /64, and the posts they read.
    "shared_prefix": {"window_minutes": 60, "min_accounts": 5, "min_delivered": 200},
    # Distinct client IPs seen for one token (or one account without a token).
    "many_ips": {"window_minutes": 60, "min_ips": 5},
    # Requests whose User-Agent names a scraping library or an AI crawler.
    "scraper_user_agent": {"window_minutes": 60, "min_requests": 1},
    # 429 answers the same principal kept asking past, within the window.
    "ignored_429": {"window_minutes": 10, "min_refused_requests": 5},
    # Accounts of one OAuth app that each read at least this many posts in the window.
    "app_scraping": {"window_minutes": 60, "min_accounts": 5, "min_posts_per_account": 200},
    # Distinct search queries from one reader within the window (query enumeration).
    "query_enumeration": {"window_minutes": 10, "min_distinct_queries": 30},
}
# The scrapers and AI crawlers the detector flags by User-Agent are rows (access.CrawlerAgent,
# seeded by a migration, edited in the admin): the same list robots.txt names.
# Routes that show one post, for the sequential-id rule (the post id is read from the path).
ACCESS_SINGLE_POST_ROUTES = ["feeds:post", "api:status"]
# Routes that search, for the query-enumeration rule (the query is the record's "q").
ACCESS_SEARCH_ROUTES = ["feeds:search", "api:search_v2", "api:accounts_search"]
# How many access-log record ids a flag keeps as evidence (the figures count them all).
ACCESS_FLAG_EVIDENCE_IDS = env_int("ACCESS_FLAG_EVIDENCE_IDS", 50)
# Paths an IP block never applies to, so an admin cannot lock the review out.
ACCESS_IP_BLOCK_EXEMPT_PATHS = ["/admin/", "/healthz", "/static/"]
ACCESS_IP_BLOCK_CACHE_SECONDS = env_int("ACCESS_IP_BLOCK_CACHE_SECONDS", 30)
# Each web process reuses its parsed copy this long: a block made elsewhere applies within it.
ACCESS_IP_BLOCK_LOCAL_SECONDS = env_int("ACCESS_IP_BLOCK_LOCAL_SECONDS", 2)
CELERY_BEAT_SCHEDULE.update(
    {
        "access-detect-bulk-access": {
            "task": "access.tasks.detect_bulk_access_task",
            "schedule": float(env_int("ACCESS_DETECT_INTERVAL", 60)),
        }
    }
)
# Access log (access/access_log.py, docs/audit.md): one append-only record per metered request.
# Records older than this many days are purged daily, in batches; the purge is itself logged.
ACCESS_LOG_RETENTION_DAYS = env_int("ACCESS_LOG_RETENTION_DAYS", 90)
ACCESS_LOG_PURGE_BATCH = env_int("ACCESS_LOG_PURGE_BATCH", 10_000)
# With Redis the ledger's script appends records to "<prefix>:accesslog"; a beat task drains
# the stream into the database every ACCESS_LOG_DRAIN_INTERVAL seconds, in batches, for at
# most ACCESS_LOG_DRAIN_MAX_SECONDS per run, taking over entries a dead worker left pending
# for ACCESS_LOG_DRAIN_CLAIM_IDLE_SECONDS.
ACCESS_LOG_DRAIN_INTERVAL = env_int("ACCESS_LOG_DRAIN_INTERVAL", 5)
# Access-log streams: 1 on one Redis; on Redis Cluster N > 1 streams, each with the read
# ledger sets of its readers in one slot (hash tag {al:<n>}), drained in turn by the task.
# Changing it on a live Redis starts today's ledger sets afresh: change it at 00:00 UTC.
ACCESS_LOG_SHARDS = env_int("ACCESS_LOG_SHARDS", 1)
ACCESS_LOG_DRAIN_BATCH = env_int("ACCESS_LOG_DRAIN_BATCH", 500)
ACCESS_LOG_DRAIN_MAX_SECONDS = env_int("ACCESS_LOG_DRAIN_MAX_SECONDS", 30)
ACCESS_LOG_DRAIN_CLAIM_IDLE_SECONDS = env_int("ACCESS_LOG_DRAIN_CLAIM_IDLE_SECONDS", 60)
CELERY_BEAT_SCHEDULE["access-drain-access-log"] = {
    "task": "access.tasks.access_log_drain_task",
    "schedule": float(ACCESS_LOG_DRAIN_INTERVAL),
    # A run queued while no worker was up is stale once the next one is due.
    "options": {"expires": float(ACCESS_LOG_DRAIN_INTERVAL * 2)},
}
CELERY_BEAT_SCHEDULE["access-purge-access-log"] = {
    "task": "access.tasks.access_log_purge_task",
    "schedule": 24 * 60 * 60.0,
}
# Delivery provenance (access/provenance.py, docs/audit.md): which posts went to which reader,
# written with each access-log record; what trace_leak reads. Personal data: purged daily
# (recorded) once older than this many days.
ACCESS_PROVENANCE_DAYS = env_int("ACCESS_PROVENANCE_DAYS", 365)
CELERY_BEAT_SCHEDULE["access-purge-provenance"] = {
    "task": "access.tasks.provenance_purge_task",
    "schedule": 24 * 60 * 60.0,
}

# --- Request-rate limits (core/ratelimits.py) ---------------------------------------------
# Named groups of (rate, key) rules, counted by django-ratelimit in the shared cache; a request
# is refused (429) when it breaks any rule of its group. Rates are django-ratelimit's
# "<count>/<n><s|m|h|d>" ("5/30m": 5 per 30 minutes). Keys: "ip" (client IP, IPv6 by /64),
# "network" (the client's IPv4 /24, IPv6 /64), "anon_ip" (as "ip", logged-out callers only),
# "user", "token" (an API access token), "principal" (the read budget's reader: account, else
# IP prefix), "username" (the lower-cased name a log-in form names) and "mailbox" (a hash of
# the mailbox a form's email field names). Defaults: DESIGN.md §4.3 (Mastodon's and X's numbers).
INSTALLED_APPS += ["django_ratelimit"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("access.middleware.ReadBudgetHeadersMiddleware") + 1,
    "access.middleware.PagingRateLimitMiddleware",
)
REQUEST_RATE_LIMITS = {
    # POST /accounts/signup/: per address, and per /24 against farms rotating addresses.
    "signup": [("5/30m", "ip"), ("20/1h", "network")],
    "login": [("25/5m", "ip")],  # POST /accounts/login/, successes and failures
    "login_failures": [("5/30m", "username")],  # failed log-ins only, checked before each try
    "post": [("300/3h", "user")],  # the web composer and POST /api/v1/statuses
    "follow": [("400/1d", "user")],  # web and API follows
    "media": [("30/30m", "user")],  # POST /api/v1/media and /api/v2/media (Mastodon's limit)
    "api": [("300/5m", "token"), ("1500/5m", "user"), ("300/5m", "anon_ip")],  # every API call
    "paging": [("300/15m", "principal")],  # any max_id/min_id/since_id, web and API
    # Search (web page and API): a favourite scraping surface, so its own, tighter group.
    "search": [("60/5m", "principal")],
    # Password and email changes (accounts/views.py; docs/security.md): every reset request
    # per network, and per mailbox asked for (any spelling of it, whether it has an account).
    "password_reset": [("5/1h", "ip")],  # POST /accounts/password/reset/
    "password_reset_email": [("3/1h", "mailbox")],  # the same, per mailbox asked for
    "email_change": [("5/1h", "user")],  # POST /accounts/settings/email/ (mails two inboxes)
    "current_password_failures": [("5/15m", "user")],  # wrong current password, checked first
}
# REQUEST_RATE_LIMITS_OVERRIDE='{"api": [["5000/5m", "token"]]}' replaces whole groups (JSON).


def _request_rate_limits_override(groups: dict) -> None:
    """Apply REQUEST_RATE_LIMITS_OVERRIDE and refuse any rule django-ratelimit cannot read."""
    import json
    import re

    raw = os.environ.get("REQUEST_RATE_LIMITS_OVERRIDE", "").strip()
    if raw:
        try:
            override = json.loads(raw)
            groups.update({name: [(r, k) for r, k in rules] for name, rules in override.items()})
        except (ValueError, TypeError, AttributeError) as exc:
            raise ImproperlyConfigured(
                'REQUEST_RATE_LIMITS_OVERRIDE must be JSON like {"api": [["300/5m", "token"]]}'
            ) from exc
    keys = {"ip", "network", "anon_ip", "user", "token", "principal", "username", "mailbox"}
    for name, rules in groups.items():
        for rate, key in rules:
            if not re.fullmatch(r"[1-9]\d*/\d*[smhd]", str(rate)) or key not in keys:
                raise ImproperlyConfigured(
                    f"REQUEST_RATE_LIMITS[{name!r}]: {(rate, key)!r} is not a rule; write "
                    f'("<count>/<n><s|m|h|d>", key) with key one of {", ".join(sorted(keys))}'
                )


_request_rate_limits_override(REQUEST_RATE_LIMITS)
# REQUEST_RATE_LIMITS_ENABLED=0 switches every request-rate limit off (benchmarks only).
RATELIMIT_ENABLE = env_bool("REQUEST_RATE_LIMITS_ENABLED", default=True)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_CACHE_PREFIX = "rl:"
# When the cache cannot be reached the request-rate limits let requests through (logged): the
# read budget keeps its own, stricter Redis-down policy, so reads stay bounded regardless.
RATELIMIT_FAIL_OPEN = True
if not REDIS_URL:
    # The embedded default runs one server process, whose in-process LocMemCache is shared by
    # all its threads and increments under a lock, so the counters hold. django-ratelimit
    # cannot know that and refuses LocMemCache (E003) and warns it is unsupported (W001).
    # With REDIS_URL set (several processes) both checks run as usual.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]


# --- The embedded schedule (microblog/embedded_schedule.py) ---------------------------------
# With no broker (the embedded default, `make run`), the server process runs the beat schedule
# above in a thread of its own — detectors, the access-log drain, expiries, purges — so the
# demo flags scrapers with nobody running a command. With a broker, Celery beat does it.
# EMBEDDED_SCHEDULER=0 turns it off; the test suite does (pyproject.toml).
EMBEDDED_SCHEDULER = env_bool("EMBEDDED_SCHEDULER", default=True) and not CELERY_BROKER_URL
# When each task last ran (JSON), beside the SQLite database; a ".lock" beside it makes one
# process per database the runner.
EMBEDDED_SCHEDULER_STATE = os.environ.get("EMBEDDED_SCHEDULER_STATE", "") or (
    f"{DATABASES['default']['NAME']}.schedule.json"
    if DATABASES["default"]["ENGINE"].endswith("sqlite3")
    else str(BASE_DIR / ".embedded-schedule.json")
)

# --- Licensed lane (licensing/, docs/licensing.md) ------------------------------------------
# Ed25519 seed for signing receipts: 32 random bytes, base64 (python -c "import base64, os;
# print(base64.b64encode(os.urandom(32)).decode())"). Empty: derived from SECRET_KEY.
LICENSING_SIGNING_KEY = os.environ.get("LICENSING_SIGNING_KEY", "").strip()
if LICENSING_SIGNING_KEY:
    import base64
    import binascii

    try:
        _seed = base64.b64decode(LICENSING_SIGNING_KEY, validate=True)
    except binascii.Error:
        _seed = b""
    if len(_seed) != 32:
        raise ImproperlyConfigured("LICENSING_SIGNING_KEY must be 32 random bytes, base64.")
# Posts per page at GET /api/v1/licensed/statuses (default and most a caller may ask for).
LICENSING_PAGE_SIZE = env_int("LICENSING_PAGE_SIZE", 100)
LICENSING_PAGE_MAX = env_int("LICENSING_PAGE_MAX", 1000)
# The database quota ledger's per-day charge rows (the once-a-day dedup) of past months go.
CELERY_BEAT_SCHEDULE["licensing-purge-quota-charges"] = {
    "task": "licensing.tasks.quota_charges_purge_task",
    "schedule": 24 * 60 * 60.0,
}
# A data licence whose renewal failed stays usable this many days (past due), then lapses;
# a renewal whose webhook is late is covered for as long. docs/licensing.md.
LICENSING_GRACE_DAYS = env_int("LICENSING_GRACE_DAYS", 3)
# Licences past their period or grace move to ended / lapsed (their tokens already stop at
# the deadline itself: the endpoint checks the dates on every request).
CELERY_BEAT_SCHEDULE["licensing-expire-licences"] = {
    "task": "licensing.tasks.licences_expire_task",
    "schedule": 60 * 60.0,
}
