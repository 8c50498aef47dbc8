"""The routes the peer adds to SimpleJWT's own views."""
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import (
    JWTAuthentication,
    JWTStatelessUserAuthentication,
)


class HelloView(APIView):
    """Unauthenticated liveness route: 200 {"hello": "world"}."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"hello": "world"})


class MeView(APIView):
    """Protected route (the benchmarks' "authenticated GET")."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"id": request.user.id, "username": request.user.get_username()})


class WhoAmIView(APIView):
    """Protected route that reads no user: SimpleJWT's
    JWTStatelessUserAuthentication builds a TokenUser from the token's claims
    (signature, expiry and type checked; no database query, and so no
    blacklist lookup for access tokens either). The like-for-like peer of
    Warden's api/whoami/ (which does check its in-memory revocation set)."""

    authentication_classes = [JWTStatelessUserAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"user_id": request.user.id, "session_id": request.auth.get("sid")})
