"""Web pages for timelines, profiles and posts."""

from django.http import HttpResponse


def home(request):
    return HttpResponse("home")


def public(request):
    return HttpResponse("public")


def profile(request, username):
    return HttpResponse(username)


def post_detail(request, post_id):
    return HttpResponse(str(post_id))
