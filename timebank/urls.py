from django.urls import path

from timebank import views

app_name = "timebank"

urlpatterns = [
    path("", views.home, name="home"),
    path("redeem", views.redeem, name="redeem"),
    path("leaderboard/", views.board, name="leaderboard"),
    path("manage/", views.manage, name="manage"),
]
