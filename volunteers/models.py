from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

LAT_VALIDATORS = [MinValueValidator(-90), MaxValueValidator(90)]
LNG_VALIDATORS = [MinValueValidator(-180), MaxValueValidator(180)]


class Area(models.Model):
    """A node of the grid organisation: street (街道) → community (社區) → grid (網格)."""

    class Level(models.TextChoices):
        STREET = "street", _("street")
        COMMUNITY = "community", _("community")
        GRID = "grid", _("grid")

    name = models.CharField(_("name"), max_length=120)
    # The name in each script and in English, where it has been given (else `name` is shown).
    name_zh_hans = models.CharField(_("Simplified Chinese name"), max_length=120, blank=True)
    name_zh_hant = models.CharField(_("Traditional Chinese name"), max_length=120, blank=True)
    name_en = models.CharField(_("English name"), max_length=120, blank=True)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    center_lat = models.FloatField(_("centre latitude"), validators=LAT_VALIDATORS)
    center_lng = models.FloatField(_("centre longitude"), validators=LNG_VALIDATORS)
    # Optional polygon as [[lat, lng], ...]; a grid without one is matched by its centre.
    polygon = models.JSONField(_("polygon"), null=True, blank=True)
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="staff_areas",
        verbose_name=_("staff"),
        help_text=_("Community or street staff who oversee every branch in this area."),
    )

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["level", "name"]
        indexes = [models.Index(fields=["level", "center_lat", "center_lng"])]

    def __str__(self) -> str:
        return self.name


class Skill(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    name_zh_hans = models.CharField(_("Simplified Chinese name"), max_length=80, blank=True)
    name_zh_hant = models.CharField(_("Traditional Chinese name"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Branch(models.Model):
    """A Party branch (支部). Territorial branches serve the area they belong to; a functional
    branch serves certain categories across areas."""

    class Kind(models.TextChoices):
        TERRITORIAL = "territorial", _("territorial")
        FUNCTIONAL = "functional", _("functional")

    name = models.CharField(_("name"), max_length=120)
    # The name in each script and in English, where it has been given (else `name` is shown).
    name_zh_hans = models.CharField(_("Simplified Chinese name"), max_length=120, blank=True)
    name_zh_hant = models.CharField(_("Traditional Chinese name"), max_length=120, blank=True)
    name_en = models.CharField(_("English name"), max_length=120, blank=True)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="branches", verbose_name=_("area"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.TERRITORIAL)
    secretaries = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="secretary_of", verbose_name=_("secretaries")
    )
    categories = models.ManyToManyField(
        "orders.Category",
        blank=True,
        related_name="functional_branches",
        verbose_name=_("categories served"),
        help_text=_("For functional branches: the categories they serve across areas."),
    )
    # Per-branch overrides of the matcher's weights, e.g. {"distance": 2.0}; empty = defaults.
    matching_weights = models.JSONField(_("matching weights"), default=dict, blank=True)
    # Per-branch overrides of the SLA timers, in minutes, e.g. {"review": 30}; empty = defaults.
    sla = models.JSONField(_("SLA overrides"), default=dict, blank=True)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Volunteer(models.Model):
    """A Party member or registered volunteer who takes orders."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="volunteer")
    branches = models.ManyToManyField(Branch, related_name="members", blank=True, verbose_name=_("branches"))
    skills = models.ManyToManyField(Skill, related_name="volunteers", blank=True, verbose_name=_("skills"))
    base_lat = models.FloatField(_("base latitude"), validators=LAT_VALIDATORS)
    base_lng = models.FloatField(_("base longitude"), validators=LNG_VALIDATORS)
    service_radius_km = models.FloatField(
        _("service radius (km)"), default=3.0, validators=[MinValueValidator(0.1), MaxValueValidator(50)]
    )
    capacity = models.PositiveSmallIntegerField(
        _("capacity"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("How many orders this volunteer may hold at once (claimed or in progress)."),
    )
    on_duty = models.BooleanField(_("on duty"), default=False)
    # Weekly availability: {"mon": [["08:00", "12:00"]], ...}; empty = only when on duty.
    availability = models.JSONField(_("weekly availability"), default=dict, blank=True)
    # Last location streamed by the phone while on duty; the matcher prefers it while fresh.
    # The position is cleared once it is older than LIVE_FRESH (the worker's sweep,
    # `volunteer_expire_live_locations`); live_at stays as the time of the last ping.
    live_lat = models.FloatField(_("live latitude"), null=True, blank=True, validators=LAT_VALIDATORS)
    live_lng = models.FloatField(_("live longitude"), null=True, blank=True, validators=LNG_VALIDATORS)
    live_at = models.DateTimeField(_("live location time"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")
        indexes = [
            models.Index(fields=["on_duty", "base_lat", "base_lng"]),
            # The matcher's bounding-box search on SQLite; PostgreSQL also gets GiST indexes on
            # ll_to_earth(lat, lng) for nearest-first walks (migration 0003, matching.candidates).
            models.Index(fields=["base_lat", "base_lng"], name="volunteer_base_latlng"),
            models.Index(fields=["live_lat", "live_lng"], name="volunteer_live_latlng"),
            # The sweep that clears live positions once they are stale.
            models.Index(fields=["live_at"], condition=models.Q(live_lat__isnull=False), name="volunteer_live_sweep"),
        ]

    def __str__(self) -> str:
        return str(self.user)


class VolunteerRecord(models.Model):
    """Running counts of a volunteer's record, for the matcher: what it would otherwise
    aggregate over the volunteer's whole history for every candidate of every order.

    Kept by the order lifecycle (`volunteers.services.volunteer_record_add`, called by
    `orders.services` and the timers) in the same transaction as the change it counts, as
    atomic increments. `volunteer_records_rebuild` recounts from the orders, offers and
    ratings: after a bulk import, or as a check (`manage.py rebuild_volunteer_records`)."""

    volunteer = models.OneToOneField(Volunteer, on_delete=models.CASCADE, primary_key=True, related_name="record")
    held = models.IntegerField(_("orders held"), default=0, help_text=_("Claimed or in progress now."))
    finished = models.IntegerField(_("orders finished"), default=0, help_text=_("Completed or closed."))
    dropped = models.IntegerField(_("offers dropped"), default=0, help_text=_("Offers declined or let lapse."))
    rating_count = models.IntegerField(_("ratings"), default=0)
    rating_sum = models.IntegerField(_("sum of ratings"), default=0)

    class Meta:
        verbose_name = _("volunteer record")
        verbose_name_plural = _("volunteer records")

    def __str__(self) -> str:
        return f"{self.volunteer_id}: {self.held} held, {self.finished} finished"


class LocationPing(models.Model):
    """A location streamed by an on-duty volunteer's phone, kept with its time.

    Seen by the matcher and the volunteer's branch secretaries only, never by residents."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="pings")
    lat = models.FloatField(validators=LAT_VALIDATORS)
    lng = models.FloatField(validators=LNG_VALIDATORS)
    accuracy_m = models.FloatField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("location ping")
        verbose_name_plural = _("location pings")
        indexes = [models.Index(fields=["volunteer", "-at"])]

    def __str__(self) -> str:
        return f"{self.volunteer} @ {self.at:%Y-%m-%d %H:%M}"
