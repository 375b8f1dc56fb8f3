"""A URL conf with throw-away routes that show posts without the read gate: the walker must
catch them with no list to update (``test_gate_walker.py``). Never used outside the tests."""

from django.http import HttpResponse, JsonResponse
from django.urls import path

from api.entities import EntityBuilder
from feeds.models import Post
from feeds.selectors import post_get
from microblog.urls import urlpatterns as site_urlpatterns


def raw_text(request, pk):
    """Shows a post's text as is: no gate, no entity builder."""
    post = Post.objects.visible().filter(pk=pk).first()
    return HttpResponse(post.text if post else "", content_type="text/plain")


def built_status(request, post_id):
    """Serializes a status without passing the gate: the entity builder must refuse."""
    post = post_get(post_id=post_id, viewer=request.user)
    return JsonResponse(EntityBuilder(request).status(post) if post else {})


urlpatterns = [
    *site_urlpatterns,
    path("leak/raw/<int:pk>/", raw_text),
    path("leak/status/<int:post_id>/", built_status),
]
