from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from accounts.models import ResidentProfile
from orders.models import Category, Order
from volunteers.models import Area, Branch, Volunteer

# A street in the demo city: everything sits around (31.2300, 121.4700).
BASE_LAT, BASE_LNG = 31.2300, 121.4700


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-sandan-test")


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area

    name = factory.Sequence(lambda n: f"Area {n}")
    level = Area.Level.GRID
    center_lat = BASE_LAT
    center_lng = BASE_LNG


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch

    name = factory.Sequence(lambda n: f"Branch {n}")
    area = factory.SubFactory(AreaFactory)


class ResidentProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResidentProfile

    user = factory.SubFactory(UserFactory)
    phone = factory.Sequence(lambda n: f"138{n:08d}")
    address = factory.Sequence(lambda n: f"{n} Secret Lane, Flat {n % 30 + 1}")
    lat = BASE_LAT
    lng = BASE_LNG


class VolunteerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Volunteer
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    base_lat = BASE_LAT + 0.002
    base_lng = BASE_LNG + 0.002
    on_duty = True
    capacity = 2
    service_radius_km = 5.0

    @factory.post_generation
    def branches(self, create, extracted, **kwargs):
        if create and extracted:
            self.branches.set(extracted)


class OrderFactory(factory.django.DjangoModelFactory):
    """A submitted order; move it along with the services, not by setting status here."""

    class Meta:
        model = Order

    resident = factory.SubFactory(UserFactory)
    category = factory.LazyFunction(lambda: Category.objects.get(code="errands"))
    description = "Please pick up my medicine from the pharmacy."
    address = "9 Secret Lane"
    contact_phone = "13800000000"
    lat = BASE_LAT
    lng = BASE_LNG
    branch = factory.SubFactory(BranchFactory)
