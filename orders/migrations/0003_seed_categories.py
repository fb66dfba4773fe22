from django.db import migrations

from orders.seed import CATEGORIES, CATEGORY_NAMES, SKILL_NAMES, SKILLS, name_fields


def seed(apps, schema_editor):
    # Also called by the tests after a flush, with today's models: the per-script names are
    # filled in when the model has them (migration orders.0006 adds them).
    Skill = apps.get_model("volunteers", "Skill")
    Category = apps.get_model("orders", "Category")
    for code, name, name_en in SKILLS:
        extra = name_fields(Skill, SKILL_NAMES[code])
        Skill.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en, **extra})
    for sort, (code, name, name_en, group, skills, hours) in enumerate(CATEGORIES, start=1):
        extra = name_fields(Category, CATEGORY_NAMES[code])
        category, _ = Category.objects.get_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "group": group, "max_hours": hours, "sort": sort, **extra},
        )
        category.skills.set(Skill.objects.filter(code__in=skills))


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_initial"), ("volunteers", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
