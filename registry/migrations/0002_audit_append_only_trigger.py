from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION registry_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER registry_auditentry_append_only
    BEFORE UPDATE OR DELETE ON registry_auditentry
    FOR EACH ROW EXECUTE FUNCTION registry_audit_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS registry_auditentry_append_only ON registry_auditentry;
DROP FUNCTION IF EXISTS registry_audit_refuse_change();
"""


def create_trigger(apps, schema_editor):
    # Known limitation: on SQLite the log is append-only only through Django;
    # TRUNCATE is also still allowed on PostgreSQL so test databases can be
    # flushed.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
