"""Settings of the reference SimpleJWT server (WIRE.md's reference setup).

Every knob comes from a PEER_* environment variable; the defaults are the
reference setup. interop/peer.sh sets PEER_DB per port.
"""
import os
import tempfile
from datetime import timedelta


def _env_int(name, default):
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_bool(name, default):
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in ("1", "true", "yes", "on")


def _env_str(name, default=None):
    raw = os.environ.get(name, "")
    return raw if raw else default


# A fixed 64-character test key; never a production secret.
DEFAULT_SIGNING_KEY = "warden-interop-simplejwt-peer-hs256-test-signing-key-0123456789a"
assert len(DEFAULT_SIGNING_KEY) == 64

SECRET_KEY = _env_str("PEER_SECRET_KEY", "warden-interop-peer-django-secret-key-not-for-production-use-00")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "peer",
]

# No session or CSRF middleware: the API authenticates with JWTs only.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "peer.urls"
WSGI_APPLICATION = "peer.wsgi.application"

_default_db = os.path.join(tempfile.gettempdir(), "warden-simplejwt-peer", "db.sqlite3")
PEER_DB = os.path.abspath(_env_str("PEER_DB", _default_db))
os.makedirs(os.path.dirname(PEER_DB), exist_ok=True)

# How the peer's SQLite commits (PEER_SQLITE_MODE):
# - "wal-normal" (default): WAL with synchronous=NORMAL; a commit is not
#   fsynced, so the last ones may be lost on power loss. Fast.
# - "wal-full": WAL with synchronous=FULL; every commit is fsynced before the
#   answer, as Warden does.
# - "django-default": no pragmas, i.e. Django's defaults (rollback journal,
#   synchronous=FULL): durable, one writer at a time.
_SQLITE_MODE = _env_str("PEER_SQLITE_MODE", "wal-normal")
_SQLITE_INIT = {
    "wal-normal": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "wal-full": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    "django-default": None,
}
if _SQLITE_MODE not in _SQLITE_INIT:
    raise ValueError("PEER_SQLITE_MODE must be one of " + ", ".join(_SQLITE_INIT))
_SQLITE_OPTIONS = {
    # Several gunicorn workers write the blacklist tables at once:
    # wait for the lock instead of answering 500 "database is locked".
    "timeout": 30,
}
if _SQLITE_INIT[_SQLITE_MODE]:
    _SQLITE_OPTIONS["init_command"] = _SQLITE_INIT[_SQLITE_MODE]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": PEER_DB,
        "OPTIONS": _SQLITE_OPTIONS,
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Django's default hashers (PBKDF2-SHA256 first), unchanged.
AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    # JSON only: no browsable API (it would need templates and static files).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's default parsers: JSON, form-encoded, multipart; others get 415.
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=_env_int("PEER_ACCESS_SECONDS", 21600)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=_env_int("PEER_REFRESH_SECONDS", 86400)),
    "ROTATE_REFRESH_TOKENS": _env_bool("PEER_ROTATE_REFRESH_TOKENS", True),
    "BLACKLIST_AFTER_ROTATION": _env_bool("PEER_BLACKLIST_AFTER_ROTATION", True),
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": _env_str("PEER_SIGNING_KEY", DEFAULT_SIGNING_KEY),
    "AUDIENCE": _env_str("PEER_AUDIENCE"),
    "ISSUER": _env_str("PEER_ISSUER"),
    "LEEWAY": _env_int("PEER_LEEWAY", 0),
    "AUTH_HEADER_TYPES": tuple(t.strip() for t in _env_str("PEER_AUTH_HEADER_TYPES", "Bearer,JWT").split(",") if t.strip()),
    "SLIDING_TOKEN_LIFETIME": timedelta(seconds=_env_int("PEER_SLIDING_SECONDS", 300)),
    "SLIDING_TOKEN_REFRESH_LIFETIME": timedelta(seconds=_env_int("PEER_SLIDING_REFRESH_SECONDS", 86400)),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # 5xx tracebacks go to gunicorn's log (stderr), so tests can show them.
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
