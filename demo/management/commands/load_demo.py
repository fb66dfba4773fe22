from django.core.management.base import BaseCommand

from demo.city import DEMO_PASSWORD, load_demo

LOGINS = [
    ("demo-resident", "resident (居民) who places orders"),
    ("demo-secretary", "branch secretary (支部書記) of demo-resident's grid"),
    ("demo-volunteer", "volunteer (黨員), on duty near demo-resident"),
    ("demo-volunteer2", "second volunteer of the same branch"),
    ("demo-staff", "community staff above that branch (also /admin/)"),
    ("demo-admin", "superuser for /admin/"),
]


class Command(BaseCommand):
    help = "Load the demo city (idempotent: a second run changes nothing) and print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=520)

    def handle(self, *args, orders: int, **options):
        summary = load_demo(orders=orders)
        verb = "Loaded" if summary.created else "Already loaded"
        self.stdout.write(
            f"{verb}: {summary.grids} grids, {summary.branches} branches, {summary.volunteers} volunteers, "
            f"{summary.residents} residents, {summary.orders} orders."
        )
        self.stdout.write(f"\nDemo logins (password: {DEMO_PASSWORD}):")
        for username, role in LOGINS:
            self.stdout.write(f"  {username:<16} {role}")
        self.stdout.write(
            "\nOpen http://127.0.0.1:8000/  ·  API docs http://127.0.0.1:8000/api/docs  ·  admin /admin/\n"
        )
