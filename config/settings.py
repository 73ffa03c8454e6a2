"""Settings for Mech Registry, read from environment variables.

With no variable set the registry runs on an embedded default that needs no
server: SQLite for data and a filesystem Celery broker, both under ``var/``.
Every variable is documented in ``.env.example``.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(env_str("MECH_STATE_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set; set it, or set DEBUG=true for local use"
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "guardian",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "services",
    "deployments",
    "health",
    "registry",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "registry.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
APPEND_SLASH = False
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]


def _database_settings():
    default_url = f"sqlite:///{STATE_DIR / 'registry.sqlite3'}"
    url = env_str("DATABASE_URL", default_url)
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL and immediate transactions let web, worker and beat share one file.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    return config


DATABASES = {"default": _database_settings()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = STATE_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 1024 * 1024, minimum=1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "registry.api.parsers.BoundedJSONParser",
        # Form parsers serve the browsable API's forms.
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "registry.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "registry.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "registry.api.throttles.AddressRateThrottle",
        "registry.api.throttles.UserRateThrottle",
        "registry.api.throttles.ApiKeyRateThrottle",
    ],
    "PAGE_SIZE": 50,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, 1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 1, 1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Mech Registry API",
    "DESCRIPTION": "Register services, deploy them and watch their health.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files are served from this installation, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DeploymentKindEnum": "deployments.choices.DeploymentKind",
        "LedgerKindEnum": "deployments.choices.LedgerKind",
    },
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = STATE_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(STATE_DIR / "broker-control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "mech")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(STATE_DIR / "celerybeat-schedule")

# The registry's own knobs.
MECH = {
    "DOCKER_HOST": env_str("DOCKER_HOST"),
    "HEALTH_CHECK_INTERVAL": env_float("MECH_HEALTH_CHECK_INTERVAL", 30.0, 1.0),
    "HEALTH_CHECK_TIMEOUT": env_float("MECH_HEALTH_CHECK_TIMEOUT", 5.0, 0.1),
    "DEPLOY_HEALTH_TIMEOUT": env_float("MECH_DEPLOY_HEALTH_TIMEOUT", 30.0, 0.5),
    "MAX_CONFIG_BYTES": env_int("MECH_MAX_CONFIG_BYTES", 256 * 1024, minimum=1024),
    "PROCESS_DIR": STATE_DIR / "processes",
    "ENCRYPTION_KEYS": env_list("MECH_ENCRYPTION_KEYS", []),
    # Registries spoken to over plain http; every other one needs https.
    "INSECURE_REGISTRIES": env_list(
        "MECH_INSECURE_REGISTRIES", ["127.0.0.1:5000", "localhost:5000"]
    ),
    # Requests per period, counted in the cache; see registry.api.throttles.
    "THROTTLE_RATES": {
        "user": env_str("MECH_THROTTLE_USER", "1200/min"),
        "key": env_str("MECH_THROTTLE_KEY", "1200/min"),
        "address": env_str("MECH_THROTTLE_ADDRESS", "3000/min"),
        "login": env_str("MECH_THROTTLE_LOGIN", "30/min"),
    },
    # Failed logins or API keys from one address (or for one username)
    # before further attempts are refused for the rest of the window.
    "FAILED_AUTH_LIMIT": env_int("MECH_FAILED_AUTH_LIMIT", 10, minimum=1),
    "FAILED_AUTH_WINDOW": env_int("MECH_FAILED_AUTH_WINDOW", 900, minimum=1),
    # nginx in front of services; an empty NGINX_LISTEN turns the proxy off.
    "NGINX_LISTEN": env_str("MECH_NGINX_LISTEN"),
    "NGINX_SSL_LISTEN": env_str("MECH_NGINX_SSL_LISTEN"),
    "NGINX_BIN": env_str("MECH_NGINX_BIN", "nginx"),
    "NGINX_DIR": Path(env_str("MECH_NGINX_DIR", str(STATE_DIR / "nginx"))),
    "NGINX_PRIMARY_ENVIRONMENT": env_str(
        "MECH_NGINX_PRIMARY_ENVIRONMENT", "production"
    ),
    "NGINX_RELOAD_TIMEOUT": env_float("MECH_NGINX_RELOAD_TIMEOUT", 10.0, 0.5),
    "TLS_CERT_DIR": env_str("MECH_TLS_CERT_DIR"),
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "registry.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if env_bool("LOG_JSON", not DEBUG) else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Production (DEBUG off) sets SECRET_KEY (50+ random characters),
# ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, and, behind TLS, SECURE_SSL_REDIRECT=true
# SECURE_HSTS_SECONDS=31536000 and SECURE_HSTS_PRELOAD=true; with those
# `manage.py check --deploy --fail-level WARNING`
# passes. SECURE_PROXY_SSL_HEADER is only trusted when BEHIND_TLS_PROXY=true,
# because a client could otherwise claim https itself.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
