"""The database itself refuses to rewrite the ledger.

PostgreSQL: a row trigger refuses UPDATE and DELETE on entries and redemptions (TRUNCATE,
which test tear-down uses, is not a row operation). SQLite: UPDATE is refused; DELETE is
left alone there because Django's test flush on SQLite deletes rows.
"""

from django.db import migrations

TABLES = ["timebank_entry", "timebank_redemption"]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION timebank_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the time-bank ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION timebank_append_only()"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'the time-bank ledger is append-only'); END"
            )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS timebank_append_only()")


class Migration(migrations.Migration):
    dependencies = [("timebank", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
