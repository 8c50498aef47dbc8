"""The two routes the peer adds to SimpleJWT's own views."""
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication


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
