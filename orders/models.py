from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from orders.states import HELD, WITH_VOLUNTEER, Status
from volunteers.models import LAT_VALIDATORS, LNG_VALIDATORS

# Sorted: a set's iteration order changes between runs, and the migration autodetector
# would then see a "new" constraint every time.
_WITH_VOLUNTEER = sorted(s.value for s in WITH_VOLUNTEER)


class Category(models.Model):
    """A kind of help a resident can ask for; seeded, editable in admin."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    name_zh_hans = models.CharField(_("Simplified Chinese name"), max_length=80, blank=True)
    name_zh_hant = models.CharField(_("Traditional Chinese name"), max_length=80, blank=True)
    description = models.TextField(_("description"), blank=True)
    group = models.CharField(_("group"), max_length=40, blank=True)
    skills = models.ManyToManyField(
        "volunteers.Skill", blank=True, related_name="categories", verbose_name=_("skills needed")
    )
    # Upper bound on time-bank hours credited for one order of this category.
    max_hours = models.DecimalField(_("max hours credited"), max_digits=5, decimal_places=2, default=4)
    active = models.BooleanField(_("active"), default=True)
    sort = models.PositiveSmallIntegerField(_("order in lists"), default=100)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    class Urgency(models.TextChoices):
        LOW = "low", _("low")
        NORMAL = "normal", _("normal")
        HIGH = "high", _("high")
        URGENT = "urgent", _("urgent")

    class Kind(models.TextChoices):
        REQUEST = "request", _("request")
        # "Call me back": a category and perhaps a voice note, nothing else; the desk calls first.
        CALLBACK = "callback", _("call me back")

    class DispatchMode(models.TextChoices):
        DIRECT = "direct", _("direct")
        POOL = "pool", _("pool")
        BROADCAST = "broadcast", _("broadcast")
        BATCH = "batch", _("batch")

    STATUS_CHOICES = [(s.value, s.value.replace("_", " ")) for s in Status]

    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", verbose_name=_("resident")
    )
    # Staff who entered a walk-in or phone-in order on the resident's behalf.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="orders", verbose_name=_("category"))
    description = models.TextField(_("description"), max_length=2000)
    address = models.CharField(_("address"), max_length=255, blank=True)
    lat = models.FloatField(_("latitude"), validators=LAT_VALIDATORS)
    lng = models.FloatField(_("longitude"), validators=LNG_VALIDATORS)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.REQUEST)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    window_start = models.DateTimeField(_("preferred from"), null=True, blank=True)
    window_end = models.DateTimeField(_("preferred until"), null=True, blank=True)

    status = models.CharField(_("status"), max_length=16, choices=STATUS_CHOICES, default=Status.SUBMITTED)
    grid = models.ForeignKey(
        "volunteers.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("grid")
    )
    branch = models.ForeignKey(
        "volunteers.Branch", on_delete=models.PROTECT, related_name="orders", verbose_name=_("branch")
    )
    volunteer = models.ForeignKey(
        "volunteers.Volunteer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("volunteer"),
    )
    dispatch_mode = models.CharField(_("dispatch mode"), max_length=12, choices=DispatchMode.choices, blank=True)

    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)

    hours = models.DecimalField(
        _("hours"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(24)],
    )
    completion_note = models.TextField(_("completion note"), blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    # Set when the order was closed as a duplicate of another (status "merged", `order_merge`).
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged",
        verbose_name=_("merged into"),
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            # An order held, done or closed names the volunteer who did it; nothing else does.
            models.CheckConstraint(
                condition=Q(status__in=_WITH_VOLUNTEER, volunteer__isnull=False)
                | (~Q(status__in=_WITH_VOLUNTEER) & Q(volunteer__isnull=True)),
                name="order_volunteer_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(lat__gte=-90, lat__lte=90, lng__gte=-180, lng__lte=180), name="order_lat_lng_range"
            ),
        ]
        indexes = [
            models.Index(fields=["branch", "status", "created_at"]),
            models.Index(fields=["resident", "created_at"]),
            models.Index(fields=["volunteer", "status"]),
            models.Index(fields=["status", "created_at"]),
            # The matcher's fairness: a volunteer's orders of the last weeks, without their history.
            models.Index(fields=["volunteer", "claimed_at"], name="order_volunteer_claimed"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category} ({self.status})"

    @property
    def is_held(self) -> bool:
        return self.status in HELD


class OrderEvent(models.Model):
    """One row per transition: the order's public timeline."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    action = models.CharField(_("action"), max_length=24)
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16)
    # Null actor = the system (a timer, auto-dispatch).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    note = models.TextField(_("note"), blank=True)
    # Machine-readable detail (target branch of a transfer, offered volunteers...). Never
    # holds the resident's personal data: the timeline is shown to everyone who sees the order.
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"])]

    def __str__(self) -> str:
        return f"{self.action}: {self.from_status or '-'} → {self.to_status}"


class OrderFollower(models.Model):
    """Someone other than its resident who follows an order: a neighbour who said "this is mine
    too" (a +1 on it), or the resident of a duplicate merged into it. A follower reads the
    order's public timeline and hears of its steps; never its resident's personal data
    (`orders.selectors.can_see_personal_data` has no follower role)."""

    class Source(models.TextChoices):
        MINE_TOO = "mine_too", _("this is mine too")
        MERGED = "merged", _("merged duplicate")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="followers", verbose_name=_("order"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="followed", verbose_name=_("follower")
    )
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    # The follower's own request that was merged into this one (source "merged").
    merged_from = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("merged from")
    )
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("follower")
        verbose_name_plural = _("followers")
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "user"], name="one_follow_per_order_and_user")]
        indexes = [models.Index(fields=["user", "created_at"], name="follower_user_since")]

    def __str__(self) -> str:
        return f"{self.user_id} follows #{self.order_id} ({self.source})"


class Offer(models.Model):
    """An order offered to one volunteer by a dispatch. At most one open offer per pair."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CLAIMED = "claimed", _("claimed")
        DECLINED = "declined", _("declined")
        WITHDRAWN = "withdrawn", _("withdrawn")
        EXPIRED = "expired", _("expired")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="offers")
    volunteer = models.ForeignKey("volunteers.Volunteer", on_delete=models.CASCADE, related_name="offers")
    mode = models.CharField(max_length=12, choices=Order.DispatchMode.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    rank = models.PositiveIntegerField(null=True, blank=True)
    # Distance rounded to 100 m at offer time: the only location detail an offer carries.
    distance_m = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["rank", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "volunteer"], condition=Q(status="open"), name="one_open_offer_per_volunteer"
            )
        ]
        indexes = [models.Index(fields=["volunteer", "status"]), models.Index(fields=["order", "status"])]

    def __str__(self) -> str:
        return f"offer #{self.order_id} → {self.volunteer} ({self.status})"


class Rating(models.Model):
    """The resident's verdict on a completed order; a reopened order may be rated again."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="ratings")
    volunteer = models.ForeignKey("volunteers.Volunteer", on_delete=models.SET_NULL, null=True, related_name="ratings")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="rating_1_to_5")]

    def __str__(self) -> str:
        return f"#{self.order_id}: {self.rating}★"


def _attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name never carries the uploader's file name.
    return f"attachments/{instance.order_id}/{instance.token}.{instance.extension}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        PHOTO = "photo", _("photo")
        VOICE = "voice", _("voice")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    token = models.CharField(max_length=32, unique=True)
    extension = models.CharField(max_length=8)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    duration_s = models.FloatField(null=True, blank=True)
    file = models.FileField(upload_to=_attachment_path, max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} for #{self.order_id}"


class IdempotencyKey(models.Model):
    """Remembers an order-creating request, or a lifecycle action (`orders.actions`), so that
    a retry returns the same order or the action's first result instead of acting again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    # Empty for a create; else the action (start, complete, …) and what it answered the first time.
    action = models.CharField(max_length=16, blank=True, default="")
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_order_per_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.key} → #{self.order_id}"
