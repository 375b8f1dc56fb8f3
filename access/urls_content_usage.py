"""robots.txt and the TDMRep files: the site-wide AI-training signals (not metered)."""

from django.urls import path

from . import views_content_usage

app_name = "content_usage"

urlpatterns = [
    path("robots.txt", views_content_usage.robots_txt, name="robots_txt"),
    path(".well-known/tdmrep.json", views_content_usage.tdmrep_json, name="tdmrep"),
    path("licensing/tdm-policy.json", views_content_usage.tdm_policy, name="tdm_policy"),
]
