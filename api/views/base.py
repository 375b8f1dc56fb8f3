"""What every API view shares: entity building and the read gate."""

from rest_framework.views import APIView

from access.gate import posts_deliver

from ..entities import EntityBuilder


class ApiView(APIView):
    """Base for the API's views."""

    def entities(self) -> EntityBuilder:
        return EntityBuilder(self.request)

    def deliver(self, posts: list) -> list:
        """Pass posts through the read gate; return the prefix the reader may be sent.

        Raises ``ReadBudgetExhausted`` (→ 429) when none may.
        """
        return posts_deliver(request=self.request, posts=posts)
