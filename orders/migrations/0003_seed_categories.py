from django.db import migrations

from orders.seed import CATEGORIES, SKILLS


def seed(apps, schema_editor):
    Skill = apps.get_model("volunteers", "Skill")
    Category = apps.get_model("orders", "Category")
    for code, name, name_en in SKILLS:
        Skill.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})
    for sort, (code, name, name_en, group, skills, hours) in enumerate(CATEGORIES, start=1):
        category, _ = Category.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "group": group, "max_hours": hours, "sort": sort}
        )
        category.skills.set(Skill.objects.filter(code__in=skills))


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_initial"), ("volunteers", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
