from django.urls import path

from example import views
from example.settings import SPECTACULAR

urlpatterns = [
    path("hello/", views.hello, name="hello"),
    path("api/items/", views.ItemList.as_view(), name="items"),
    path("api/login/", views.Login.as_view(), name="login"),
    path("api/upload/", views.Upload.as_view(), name="upload"),
]

if SPECTACULAR:  # the OpenAPI schema, with the 429s, when drf-spectacular is installed
    from drf_spectacular.views import SpectacularAPIView

    urlpatterns.append(path("api/schema/", SpectacularAPIView.as_view(), name="schema"))
