from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class Me(APIView):
    """The Bearer-protected endpoint: the user the access token names."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        user = request.user
        return Response({"id": user.id, "username": user.username, "date_joined": user.date_joined})
