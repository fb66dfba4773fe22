"""An example service definition, so that metadata=true has something to show: the home
repairs service asks what needs repairing. Editable (or removable) in the admin."""

from django.db import migrations

REPAIR_KIND = {
    "code": "repair-kind",
    "datatype": "singlevaluelist",
    "required": False,
    "order": 1,
    "description": "需要維修甚麼？",
    "datatype_description": "",
    "values": [
        {"key": "plumbing", "name": "水管"},
        {"key": "electrics", "name": "電路"},
        {"key": "doors-windows", "name": "門窗"},
        {"key": "appliance", "name": "家電"},
        {"key": "other", "name": "其他"},
    ],
}


def seed(apps, schema_editor):
    Category = apps.get_model("orders", "Category")
    ServiceAttribute = apps.get_model("open311", "ServiceAttribute")
    repair = Category.objects.filter(code="repair").first()
    if repair is not None:
        ServiceAttribute.objects.get_or_create(category=repair, code=REPAIR_KIND["code"], defaults=REPAIR_KIND)


def unseed(apps, schema_editor):
    apps.get_model("open311", "ServiceAttribute").objects.filter(code=REPAIR_KIND["code"]).delete()


class Migration(migrations.Migration):
    dependencies = [("open311", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
