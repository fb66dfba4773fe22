"""A covering index on the orders table for the figures (PostgreSQL only).

The figures read, for one scope and period, a handful of columns of every order received:
`(branch_id, created_at)` finds them, the INCLUDEd columns let PostgreSQL answer from the
index alone (index-only scan) instead of visiting ~25,000 heap pages for a street-year.
Measured in bench/stats.py (docs/performance.md, "Statistics"). It lives in this app
because only the figures need it; the orders app's own migrations are left alone.
Built CONCURRENTLY so that a deployment does not block writes to the orders table.
"""

from django.db import migrations

INDEX = "stats_order_cohort_idx"
COLUMNS = "id, status, reviewed_at, dispatched_at, claimed_at, started_at, completed_at, reopen_count, category_id"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON orders_order (branch_id, created_at) INCLUDE ({COLUMNS})"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("stats", "0001_initial"), ("orders", "0003_seed_categories")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
