from django.urls import path
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenObtainSlidingView,
    TokenRefreshSlidingView,
    TokenRefreshView,
    TokenVerifyView,
)

from peer.views import HelloView, MeView, WhoAmIView

urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("api/token/verify/", TokenVerifyView.as_view(), name="token_verify"),
    path("api/token/blacklist/", TokenBlacklistView.as_view(), name="token_blacklist"),
    path("api/token/sliding/", TokenObtainSlidingView.as_view(), name="token_obtain_sliding"),
    path("api/token/sliding/refresh/", TokenRefreshSlidingView.as_view(), name="token_refresh_sliding"),
    path("api/me/", MeView.as_view(), name="me"),
    path("api/hello/", HelloView.as_view(), name="hello"),
    path("api/whoami/", WhoAmIView.as_view(), name="whoami"),
    # The same views where djoser mounts them (auth/jwt/create/ ...): a server whose
    # routes are not SimpleJWT's defaults, for clients with custom paths.
    path("auth/jwt/create/", TokenObtainPairView.as_view(), name="djoser_create"),
    path("auth/jwt/refresh/", TokenRefreshView.as_view(), name="djoser_refresh"),
    path("auth/jwt/verify/", TokenVerifyView.as_view(), name="djoser_verify"),
    path("auth/jwt/blacklist/", TokenBlacklistView.as_view(), name="djoser_blacklist"),
    path("auth/users/me/", MeView.as_view(), name="djoser_me"),
]
