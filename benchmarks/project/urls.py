from django.urls import path

from benchmarks.project import views

urlpatterns = [
    path("health/", views.health),
    path("unthrottled/", views.Unthrottled.as_view()),
    path("bare-incr/", views.BareIncr.as_view()),
    path("drf-ratelimit/", views.Throttled.as_view()),
    path("drf/", views.DrfThrottled.as_view()),
]
