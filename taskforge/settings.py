"""TaskForge settings, read from the environment.

Defaults suit the local stack started by `make run`. A malformed value stops start-up
with a message naming the variable (taskforge/env.py). Production is selected with
DJANGO_SETTINGS_PROFILE=prod, which refuses insecure defaults.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from taskforge.dbcontext import pool_reset
from taskforge.env import (
    check_redis_url,
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_required,
    env_str,
    env_url,
    require_url_files,
    url_query,
)

BASE_DIR = Path(__file__).resolve().parent.parent

PROFILE = env_choice("DJANGO_SETTINGS_PROFILE", "dev", ("dev", "prod", "test"))
PRODUCTION = PROFILE == "prod"

DEBUG = env_bool("DJANGO_DEBUG", False)
if PRODUCTION:
    SECRET_KEY = env_required("DJANGO_SECRET_KEY")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters in production.")
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG must be off in production.")
else:
    # Local/test only: a per-checkout key written by `make` into var/secret_key.
    _key_file = BASE_DIR / "var" / "secret_key"
    SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
    if not SECRET_KEY:
        if _key_file.exists():
            SECRET_KEY = _key_file.read_text().strip()
        else:
            import secrets

            _key_file.parent.mkdir(parents=True, exist_ok=True)
            SECRET_KEY = secrets.token_urlsafe(64)
            _key_file.write_text(SECRET_KEY)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the site's host names in production.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", ("http", "https"))

INSTALLED_APPS = [
    "taskforge.admin_site.SiteAdminConfig",  # django.contrib.admin with TaskForge's admin site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_rls",
    "csp",
    "taskforge",
    "sync",
    "audit",
    "mail",
    "backups",
    "accounts",
    "tasks",
    "bookings",
    "checklists",
    "reports",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "webhooks",
]

MIDDLEWARE = [
    "taskforge.middleware.RequestIdMiddleware",
    "taskforge.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so static files carry the same policies as pages.
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "taskforge.middleware.PrivateResponsesMiddleware",  # no-store for signed-in people
    "accounts.middleware.AccountSessionMiddleware",  # session index, timeouts, presence, theme
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "taskforge.middleware.DatabaseContextMiddleware",
    "taskforge.middleware.ServiceErrorMiddleware",  # refusals not caught by a form view
]

ROOT_URLCONF = "taskforge.urls"
WSGI_APPLICATION = "taskforge.wsgi.application"

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
                "taskforge.context_processors.site",
            ],
        },
    },
]

# --- PostgreSQL -------------------------------------------------------------
# `default` connects as the application role (no BYPASSRLS, owns nothing).
# Migrations run as the owner role, backups as the backup role; those URLs are
# kept out of DATABASES so no query can be routed to them by accident.
DB_POOL = env_bool("DB_POOL", True)
DB_POOL_MIN = env_int("DB_POOL_MIN", 2, minimum=0)
DB_POOL_MAX = env_int("DB_POOL_MAX", 10, minimum=1)


def database_settings(config: dict, *, pool: bool = DB_POOL) -> dict:
    """A DATABASES entry from an env_database parse: the RLS engine, the pool, and the
    URL's own options (sslmode, sslrootcert, ...: TLS; README "TLS to the stores")."""
    config = {**config, "ENGINE": "django_rls.backends.postgresql"}
    options = {"connect_timeout": 5, "application_name": "taskforge", **(config.get("OPTIONS") or {})}
    if pool:
        options["pool"] = {"min_size": DB_POOL_MIN, "max_size": DB_POOL_MAX, "timeout": 10, "reset": pool_reset}
        config["CONN_MAX_AGE"] = 0
        # The pool checks a connection before lending it, so a backend killed while idle
        # (failover, pg_terminate_backend) never fails an unrelated request.
        config["CONN_HEALTH_CHECKS"] = True
    else:
        config["CONN_MAX_AGE"] = 60
        config["CONN_HEALTH_CHECKS"] = True
    config["OPTIONS"] = options
    return config


DATABASES = {
    "default": database_settings(env_database("DATABASE_URL", "postgres://taskforge_app@127.0.0.1:5432/taskforge"))
}
DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", "test_taskforge")}
for _alias, _var in (("replica", "DATABASE_REPLICA_URL"), ("reports", "DATABASE_REPORTS_URL")):
    _cfg = env_database(_var, None)
    if _cfg:
        DATABASES[_alias] = database_settings(_cfg)
        DATABASES[_alias]["TEST"] = {"MIRROR": "default"}

# `make`/bootstrap run migrations with DJANGO_DB_ROLE=owner: the default alias then
# connects as the owner role. The site and the tests always run as the app role.
DJANGO_DB_ROLE = env_choice("DJANGO_DB_ROLE", "app", ("app", "owner"))
DATABASE_OWNER = env_database("DATABASE_OWNER_URL", "postgres://taskforge_owner@127.0.0.1:5432/taskforge")
DATABASE_BACKUP = env_database("DATABASE_BACKUP_URL", "postgres://taskforge_backup@127.0.0.1:5432/taskforge")
DATABASE_SUPERUSER = env_database("DATABASE_SUPERUSER_URL", "postgres://postgres@127.0.0.1:5432/postgres")
if DJANGO_DB_ROLE == "owner":
    _test = DATABASES["default"]["TEST"]
    DATABASES["default"] = {**database_settings(DATABASE_OWNER), "TEST": _test}
DB_APP_ROLE = (env_database("DATABASE_URL", "postgres://taskforge_app@127.0.0.1:5432/taskforge") or {})["USER"]
DB_OWNER_ROLE = DATABASE_OWNER["USER"]
DB_BACKUP_ROLE = DATABASE_BACKUP["USER"]
DATABASE_ROUTERS = ["taskforge.routers.DatabaseRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DJANGO_RLS = {"AUTO_ENABLE_RLS": True, "STRICT_MIGRATE_RLS": True, "RESET_CONTEXT_ON_CONNECT": False}

# --- MongoDB (content models, through django-mongodb-backend) ------------------
# MongoDB 7 or newer in production; SecantusDB (scripts/docserver.sh) in development and tests.
MONGODB_URI = env_url("MONGODB_URI", "mongodb://127.0.0.1:27017/taskforge", ("mongodb", "mongodb+srv"))
# TLS through the URI (pymongo reads it): ?tls=true&tlsCAFile=/path/ca.pem
require_url_files("MONGODB_URI", url_query(MONGODB_URI), ("tlsCAFile", "tlsCertificateKeyFile", "tlsCRLFile"))
MONGODB_TIMEOUT_MS = env_int("MONGODB_TIMEOUT_MS", 1500, minimum=100)
# The database name comes from the URI's path. Short timeouts: a stopped document server
# fails a request fast (503) instead of hanging it, and PostgreSQL writes still commit.
DATABASES["mongodb"] = {
    "ENGINE": "django_mongodb_backend",
    "HOST": MONGODB_URI,
    "NAME": "",
    "OPTIONS": {
        "serverSelectionTimeoutMS": MONGODB_TIMEOUT_MS,
        "connectTimeoutMS": MONGODB_TIMEOUT_MS,
        "socketTimeoutMS": max(MONGODB_TIMEOUT_MS * 4, 5000),
    },
}

# --- Redis: cache, sessions, counters ----------------------------------------
REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", ("redis", "rediss", "unix"))
# TLS: rediss://…?ssl_cert_reqs=required&ssl_ca_certs=/path/ca.pem (redis-py and Celery read both).
check_redis_url("REDIS_URL", REDIS_URL)
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "tf")
_redis_options = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    "SOCKET_CONNECT_TIMEOUT": 0.3,
    "SOCKET_TIMEOUT": 0.3,
    # A dead Redis degrades the site (cache misses) instead of failing requests.
    "IGNORE_EXCEPTIONS": True,
}
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "TIMEOUT": 300,
        "OPTIONS": _redis_options,
    },
}
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Sessions live in Redis, backed by PostgreSQL so a Redis restart signs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 3600, minimum=60)
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Live events (Server-Sent Events from the live service, live/) ------------------
# Where pages open their EventSource: empty = this origin's /events/ (nginx routes it to the
# live service); or the live service's own URL, e.g. http://127.0.0.1:8001/events (make run).
LIVE_EVENTS_URL = env_str("LIVE_EVENTS_URL", "").rstrip("/")
if LIVE_EVENTS_URL and not LIVE_EVENTS_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"LIVE_EVENTS_URL={LIVE_EVENTS_URL!r} must be empty or an http(s):// URL.")
# Origins (scheme://host[:port]) whose pages may open streams on the live service across
# origins (CORS with credentials); the site's own origin by default.
LIVE_ALLOWED_ORIGINS = env_list("LIVE_ALLOWED_ORIGINS", ["/".join(SITE_URL.split("/")[:3])])
LIVE_BACKLOG = env_int("LIVE_BACKLOG", 500, minimum=10, maximum=100_000)  # events kept per channel for replay
LIVE_BACKLOG_SECONDS = env_int("LIVE_BACKLOG_SECONDS", 3600, minimum=60)  # a quiet channel's backlog expires
LIVE_HEARTBEAT_SECONDS = env_int("LIVE_HEARTBEAT_SECONDS", 15, minimum=1, maximum=300)
LIVE_RETRY_MS = env_int("LIVE_RETRY_MS", 3000, minimum=100, maximum=600_000)  # the browser's reconnect delay
# How long a stream trusts its last permission check before checking again on the next event.
LIVE_RECHECK_MS = env_int("LIVE_RECHECK_MS", 2000, minimum=0, maximum=60_000)
LIVE_QUEUE_MAX = env_int("LIVE_QUEUE_MAX", 256, minimum=8)  # a stream this far behind is closed (it replays)

# --- Celery (RabbitMQ broker) -------------------------------------------------
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//", ("amqp", "amqps", "pyamqp"))
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
if CELERY_RESULT_BACKEND.startswith(("redis://", "rediss://")):
    check_redis_url("CELERY_RESULT_BACKEND", CELERY_RESULT_BACKEND)
# TLS to RabbitMQ: an amqps:// URL; the server's certificate must chain to CELERY_BROKER_CA_FILE
# (or to the system's trust store when unset) and match the broker's host name.
CELERY_BROKER_CA_FILE = env_str("CELERY_BROKER_CA_FILE", "")
CELERY_BROKER_USE_SSL: dict | bool = False
if CELERY_BROKER_URL.startswith("amqps://"):
    if CELERY_BROKER_CA_FILE and not Path(CELERY_BROKER_CA_FILE).is_file():
        raise ImproperlyConfigured(f"CELERY_BROKER_CA_FILE={CELERY_BROKER_CA_FILE} is not a file.")
    # server_hostname=None: kombu puts the broker's host name there, which turns on the host name check.
    CELERY_BROKER_USE_SSL = {
        "cert_reqs": ssl.CERT_REQUIRED,
        "ca_certs": CELERY_BROKER_CA_FILE or None,
        "server_hostname": None,
    }
elif CELERY_BROKER_CA_FILE:
    raise ImproperlyConfigured("CELERY_BROKER_CA_FILE is set but CELERY_BROKER_URL is not an amqps:// URL.")
# A prefix keeps concurrent test runs (or several stacks on one broker) apart.
CELERY_QUEUE_PREFIX = env_str("CELERY_QUEUE_PREFIX", "")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# No task result is stored unless its task says ignore_result=False (sync.ping,
# audit.rls_probe: read back by checks and tests). With a result wanted, every
# .delay() in a web request subscribes to the Redis result backend, and while Redis
# was down that subscription retried for ~20 s inside the request (bench.load's
# Redis fault: booking cancellations timed out, and the blocked threads starved
# public pages).
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_TASK_DEFAULT_QUEUE = f"{CELERY_QUEUE_PREFIX}default"
CELERY_TASK_DEFAULT_EXCHANGE = f"{CELERY_QUEUE_PREFIX}taskforge"
CELERY_TASK_DEFAULT_ROUTING_KEY = "default"
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True, "max_retries": 2}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"

# --- Auth ---------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.AccountBackend"]
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idPasswordHasher",  # Argon2id at OWASP's minimum costs (see its docstring)
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # One maximum everywhere (accounts.validators.PASSWORD_MAX_LENGTH; the sign-in form shares it).
    {"NAME": "accounts.validators.MaximumLengthValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Brute-force protection: this many failed sign-ins per account or per client IP
# within the window answer 429 with Retry-After.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)  # per account
# Per client IP: higher, since an office or a carrier NAT puts many people behind one address.
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 50, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=60)
# Device cookies (accounts/devices.py, OWASP): LOGIN_FAILURE_LIMIT counts only clients without
# a valid device cookie for the account, so guesses from elsewhere never lock out a browser
# that has signed in before; each device cookie has this limit of its own in the same window.
LOGIN_DEVICE_FAILURE_LIMIT = env_int("LOGIN_DEVICE_FAILURE_LIMIT", 10, minimum=1)
LOGIN_DEVICE_COOKIE_DAYS = env_int("LOGIN_DEVICE_COOKIE_DAYS", 365, minimum=1, maximum=3650)
LOGIN_DEVICE_COOKIE_NAME = "tf_device"
LOGIN_DEVICE_COOKIE_SECURE = PRODUCTION  # like the session cookie: HTTPS only in prod
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 7, minimum=1, maximum=90)
# Password reset links: valid for an hour (Django's default is three days), and once.
PASSWORD_RESET_TIMEOUT = 3600

# --- Email ----------------------------------------------------------------------
_email_url = env_str("EMAIL_URL", "consolemail://")
try:
    import environ as _environ

    vars().update(_environ.Env.email_url_config(_email_url))
except Exception as _exc:  # noqa: BLE001 - any parse failure is a config error
    raise ImproperlyConfigured(f"EMAIL_URL={_email_url!r} is not a valid email URL: {_exc}") from None
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "TaskForge <noreply@taskforge.local>")
# Delivery (mail/delivery.py): the SMTP timeout must stay well below the claim lease,
# so a live sender never has its email taken over by a redelivered job.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1, maximum=300)
EMAIL_SEND_LEASE_SECONDS = env_int("EMAIL_SEND_LEASE_SECONDS", 120, minimum=1)
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 6, minimum=1)
EMAIL_SWEEP_MINUTES = env_int("EMAIL_SWEEP_MINUTES", 5, minimum=1)
if EMAIL_SEND_LEASE_SECONDS <= 2 * EMAIL_TIMEOUT:
    raise ImproperlyConfigured("EMAIL_SEND_LEASE_SECONDS must be more than twice EMAIL_TIMEOUT.")

# --- Files ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# gunicorn serves static files through WhiteNoise (nginx does in deploy/); outside
# production it reads them straight from the finders, so no collectstatic is needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
# Tasks app: how often the notification bell and list re-poll (htmx), in seconds.
NOTIFICATION_POLL_SECONDS = env_int("NOTIFICATION_POLL_SECONDS", 15, minimum=1, maximum=300)
AVATAR_MAX_BYTES = env_int("AVATAR_MAX_BYTES", 2 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Operations ----------------------------------------------------------------------
# /metrics: with a token, only a bearer of it; without one (dev/test only), loopback callers.
# In production every process on the host is loopback, so the token is required there.
METRICS_TOKEN = env_required("METRICS_TOKEN") if PRODUCTION else env_str("METRICS_TOKEN", "")
if PRODUCTION and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters in production.")
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(BASE_DIR / "var" / "backups")))
BACKUP_RETENTION_DAYS = env_int("BACKUP_RETENTION_DAYS", 30, minimum=1)
BACKUP_HOUR = env_int("BACKUP_HOUR", 2, minimum=0, maximum=23)
BACKUP_TIME_LIMIT_SECONDS = env_int("BACKUP_TIME_LIMIT_SECONDS", 6 * 3600, minimum=60)
# Backups are encrypted at rest with age (backups/crypto.py): to these public keys
# (age1…, comma-separated); restores and verification decrypt with the identity files
# (private keys; after a key rotation, list the new one first and keep the old ones).
BACKUP_AGE_RECIPIENTS = env_list("BACKUP_AGE_RECIPIENTS", [])
BACKUP_AGE_IDENTITY_FILES = [Path(p) for p in env_list("BACKUP_AGE_IDENTITY_FILES", [])]
if PRODUCTION and not BACKUP_AGE_RECIPIENTS:
    raise ImproperlyConfigured(
        "BACKUP_AGE_RECIPIENTS must be set in production: the age public key(s) backups are encrypted to "
        "(`manage.py backup_keygen FILE` makes a key pair)."
    )
# Local/test only, when no key is configured: a per-checkout key pair in var/ (like
# var/secret_key), made on first use by the backups app, which also checks the keys above.
BACKUP_AGE_LOCAL_IDENTITY = (
    BASE_DIR / "var" / "backup-age-identity.txt"
    if not PRODUCTION and not BACKUP_AGE_RECIPIENTS and not BACKUP_AGE_IDENTITY_FILES
    else None
)
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 90, minimum=1)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8, minimum=1)
# Outbox relay (sync/outbox.py): a claim is a lease; a relay that dies releases its
# events when the lease ends. Failed events wait 1, 2, 4 ... s, capped by the backoff max.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 60, minimum=1, maximum=3600)
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 500, minimum=1, maximum=10_000)
OUTBOX_BACKOFF_MAX_SECONDS = env_int("OUTBOX_BACKOFF_MAX_SECONDS", 300, minimum=1)
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 20, minimum=1, maximum=100)  # budget of one sweep job
OUTBOX_FAST_PATH = env_choice("OUTBOX_FAST_PATH", "inline", ("inline", "celery", "off"))
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 7, minimum=1)

# --- Trips and bookings (bookings app) ----------------------------------------------------
# Price range of a trip, derived from its price per person in minor units (pence/cents):
# budget below TRIP_PRICE_BUDGET_MAX_MINOR, luxury from TRIP_PRICE_LUXURY_MIN_MINOR.
TRIP_PRICE_BUDGET_MAX_MINOR = env_int("TRIP_PRICE_BUDGET_MAX_MINOR", 100_000, minimum=1)
TRIP_PRICE_LUXURY_MIN_MINOR = env_int("TRIP_PRICE_LUXURY_MIN_MINOR", 300_000, minimum=1)
if TRIP_PRICE_LUXURY_MIN_MINOR <= TRIP_PRICE_BUDGET_MAX_MINOR:
    raise ImproperlyConfigured("TRIP_PRICE_LUXURY_MIN_MINOR must be above TRIP_PRICE_BUDGET_MAX_MINOR.")
TRIP_IMAGE_MAX_BYTES = env_int("TRIP_IMAGE_MAX_BYTES", 8 * 1024 * 1024, minimum=1024)
BOOKING_MAX_TRAVELLERS = env_int("BOOKING_MAX_TRAVELLERS", 12, minimum=1, maximum=1000)
WAITLIST_OFFER_HOURS = env_int("WAITLIST_OFFER_HOURS", 24, minimum=1, maximum=24 * 14)  # how long an offer holds seats
# Travellers' names and details can be changed until this many days before departure.
BOOKING_TRAVELLER_EDIT_DAYS = env_int("BOOKING_TRAVELLER_EDIT_DAYS", 14, minimum=0, maximum=365)
# The reminder email goes out this many days before departure (bookings/lifecycle_emails.py).
BOOKING_REMINDER_DAYS = env_int("BOOKING_REMINDER_DAYS", 7, minimum=1, maximum=365)
# Rendered catalogue/search results are cached this long (0 = off); any trip change retires them.
CATALOGUE_CACHE_SECONDS = env_int("CATALOGUE_CACHE_SECONDS", 300, minimum=0, maximum=86_400)

# --- REST API (api app) ---------------------------------------------------------------------
# Rate limits, "N/second|minute|hour|day": per personal access token, and per client IP
# (every API request, before authentication). Over the limit: 429 with Retry-After.
API_TOKEN_RATE = env_str("API_TOKEN_RATE", "1200/minute")
API_IP_RATE = env_str("API_IP_RATE", "2400/minute")
for _name in ("API_TOKEN_RATE", "API_IP_RATE"):
    _count, _, _period = vars()[_name].partition("/")
    if not _count.isdigit() or int(_count) < 1 or _period not in ("second", "minute", "hour", "day"):
        raise ImproperlyConfigured(f"{_name} must look like 600/minute (second, minute, hour or day).")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "api.authentication.SessionCsrfAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.SignedIn", "api.permissions.TokenScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.ApiCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "DATETIME_FORMAT": "iso-8601",  # RFC 3339 in UTC (TIME_ZONE), "…Z"
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TaskForge API",
    "DESCRIPTION": "The TaskForge REST API, version 1. Authenticate with a personal access token from your profile "
    "page (`Authorization: Bearer tf_…`). Lists are cursor-paginated (`next`/`previous` links); errors are "
    "RFC 9457 `application/problem+json`; reads carry an `ETag` (send `If-None-Match` for a 304); updates take "
    "`If-Match` (412 when stale); creating POSTs take an `Idempotency-Key`. Timestamps are RFC 3339 in UTC.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "TeamRoleEnum": "accounts.models.TeamRole",
        "TaskStatusEnum": "tasks.models.TaskStatus",
        "TaskPriorityEnum": "tasks.models.TaskPriority",
        "BookingStatusEnum": "bookings.models.BookingStatus",
        "DepartureStatusEnum": "bookings.models.DepartureStatus",
    },
}
# --- Webhooks (webhooks app) ----------------------------------------------------------------
# Signed POSTs to the endpoints teams and the booking desk register (README "Webhooks"). A
# failed delivery is tried again after BASE, 2*BASE, 4*BASE ... seconds (capped by MAX, with
# jitter) and becomes a dead letter after WEBHOOK_MAX_ATTEMPTS attempts.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=50)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1, maximum=30)
WEBHOOK_BACKOFF_BASE_SECONDS = env_int("WEBHOOK_BACKOFF_BASE_SECONDS", 30, minimum=1)
WEBHOOK_BACKOFF_MAX_SECONDS = env_int("WEBHOOK_BACKOFF_MAX_SECONDS", 6 * 3600, minimum=1)
# Server-side request forgery guard: endpoints may not point at private, loopback,
# link-local, multicast or reserved addresses unless this is on (tests, a closed network).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
# Finished deliveries (succeeded, dead) are kept this long in the endpoints' logs.
WEBHOOK_DELIVERY_RETENTION_DAYS = env_int("WEBHOOK_DELIVERY_RETENTION_DAYS", 30, minimum=1)

# --- i18n / time -----------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security ----------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): everything self-hosted; no inline script, no inline
# event handler, no eval, no inline style (style="" attributes too). Behaviour lives in
# static JS with event listeners, looks in static CSS. A template that truly needs an inline
# <script> gives it nonce="{{ request.csp_nonce }}": the nonce is added to script-src only on
# responses that used it. deploy/nginx/taskforge.conf repeats this policy, word for word, for
# the files nginx serves itself (taskforge/tests/test_security_headers.py compares them).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        # The live service's origin when it is not this one (LIVE_EVENTS_URL).
        "connect-src": [SELF, *(["/".join(LIVE_EVENTS_URL.split("/")[:3])] if LIVE_EVENTS_URL else [])],
        "media-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        # Only behind TLS: on plain-HTTP local stacks it would break every subresource.
        "upgrade-insecure-requests": PRODUCTION,
    },
}
# Permissions-Policy (django-permissions-policy): no page of the site uses these features,
# so neither it nor anything embedded in it may. Same value in deploy/nginx/security-headers.conf.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}
CSRF_COOKIE_HTTPONLY = False
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOG_JSON = env_bool("LOG_JSON", PRODUCTION)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "taskforge.logging.RequestIdFilter"},
        "repeats": {"()": "taskforge.logging.RepeatFilter", "seconds": 10},
        "redact_tokens": {"()": "taskforge.logging.RedactTokensFilter"},
    },
    "formatters": {
        "json": {"()": "taskforge.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "redact_tokens"],
            "formatter": "json" if LOG_JSON else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's request lines, through the console handler (no tokens) like the rest.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Redis down: one "Exception ignored" (with its traceback) per 10 s, not one per cache call.
        "django_redis.cache": {"filters": ["repeats"]},
    },
}

# Celery queues, routes and beat schedule (code lives in taskforge/schedule.py).
from taskforge.schedule import beat_schedule, celery_queues, celery_routes  # noqa: E402

CELERY_TASK_QUEUES = celery_queues(CELERY_QUEUE_PREFIX)

CELERY_TASK_ROUTES = celery_routes(CELERY_QUEUE_PREFIX)
CELERY_BEAT_SCHEDULE = beat_schedule(backup_hour=BACKUP_HOUR)
