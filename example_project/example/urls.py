from django.urls import path

from example import views

urlpatterns = [
    path("hello/", views.hello, name="hello"),
    path("api/items/", views.ItemList.as_view(), name="items"),
]
