from django.urls import path, re_path

from stats import views

app_name = "stats"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export.csv", views.export_csv, name="export"),
    re_path(r"^branches\.(?P<fmt>csv|xlsx)$", views.export_branches, name="export-branches"),
    path("samples/", views.samples, name="samples"),
    re_path(r"^monthly/(?P<branch_id>\d+)/(?P<month>\d{4}-\d{2})/$", views.monthly, name="monthly"),
    re_path(r"^monthly/(?P<branch_id>\d+)/(?P<month>\d{4}-\d{2})\.pdf$", views.monthly_pdf, name="monthly-pdf"),
]
