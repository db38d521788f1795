from django.urls import path

from tests.live.project import views

urlpatterns = [
    path("health/", views.health),
    path("ours/", views.OursView.as_view()),
    path("ours-ratelimit/", views.OursRatelimitView.as_view()),
    path("default/", views.DefaultThrottleView.as_view()),
    path("drf/", views.DrfView.as_view()),
    *(path(f"edge/{name}/", view) for name, view in views.EDGE_VIEWS.items()),
]
