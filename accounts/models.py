from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.prepared import prepared


class Users(UserManager["User"]):
    def get(self, *args: Any, **kwargs: Any) -> User:
        """`User.objects.get(pk=…)` through one compiled read (core/prepared.py): it is how
        Django's ModelBackend.get_user finds the signed-in user on every request, and building
        the query cost a third of a millisecond of it (docs/performance.md, "Ninth pass").

        Only this manager itself takes that way: a relation's manager (`branch.secretaries`)
        is a subclass of it that filters, and anything else goes to Django's `get` as is."""
        pk = kwargs.get("pk")
        if (
            type(self) is not Users
            or args
            or len(kwargs) != 1
            or type(pk) is not int
            or self._db
            or getattr(self, "_hints", None)
        ):
            return super().get(*args, **kwargs)
        user = _user_by_pk.first(pk)
        if user is None:
            raise self.model.DoesNotExist(f"{self.model._meta.object_name} matching query does not exist.")
        return user


class User(AbstractUser):
    """The one user model. Roles are not flags on it: they come from relations
    (a Volunteer profile, a secretary seat on a Branch, a staff seat on an Area)."""

    display_name = models.CharField(_("display name"), max_length=80, blank=True)
    # Twice the type and the tap targets on the resident's pages (many requesters are elderly);
    # kept here so that it follows the person to every phone they sign in on.
    large_type = models.BooleanField(_("large type"), default=False)

    objects: ClassVar[Users] = Users()

    def __str__(self) -> str:
        return self.display_name or self.username


@prepared
def _user_by_pk(pk: int) -> models.QuerySet[User]:
    return User.objects.filter(pk=pk)[:1]


class ResidentProfile(models.Model):
    """Where a resident lives and how to reach them: the defaults of a new order.

    Phone and address are personal data; they leave the server only for the people
    docs/design.md names (see orders.selectors.can_see_personal_data)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="resident")
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    lat = models.FloatField(
        _("latitude"), null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    lng = models.FloatField(
        _("longitude"), null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    grid = models.ForeignKey(
        "volunteers.Area",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="residents",
        limit_choices_to={"level": "grid"},
        verbose_name=_("grid"),
    )

    class Meta:
        verbose_name = _("resident profile")
        verbose_name_plural = _("resident profiles")

    def __str__(self) -> str:
        return str(self.user)
