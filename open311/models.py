"""Open311 GeoReport v2: the registered clients, the extra questions a service asks, and the
record of every request a client filed (docs/open311.md)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

RATE_VALIDATOR = RegexValidator(
    r"^[1-9][0-9]{0,6}/(second|minute|hour|day)$", _("Write the rate as N/second, N/minute, N/hour or N/day.")
)


class Open311Client(models.Model):
    """A 311 app, kiosk or dashboard allowed to POST requests with its api_key.

    Only a SHA-256 of the key is stored: the key is 32 random bytes, so a fast hash is enough
    to make a leaked database useless for posting, and it can be looked up by equality."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    contact = models.CharField(_("contact"), max_length=255, blank=True)
    key_prefix = models.CharField(_("key prefix"), max_length=8, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    rate = models.CharField(
        _("rate limit"),
        max_length=24,
        default="60/minute",
        validators=[RATE_VALIDATOR],
        help_text=_("Requests this client may POST, e.g. 60/minute or 1000/day."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 client")
        verbose_name_plural = _("Open311 clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceAttribute(models.Model):
    """An extra field a service (category) asks for: the GeoReport service definition."""

    class Datatype(models.TextChoices):
        STRING = "string", _("string")
        NUMBER = "number", _("number")
        DATETIME = "datetime", _("date and time")
        TEXT = "text", _("text")
        SINGLE = "singlevaluelist", _("one of a list")
        MULTI = "multivaluelist", _("several of a list")

    category = models.ForeignKey(
        "orders.Category", on_delete=models.CASCADE, related_name="open311_attributes", verbose_name=_("category")
    )
    code = models.SlugField(_("code"), max_length=40)
    variable = models.BooleanField(
        _("asks for input"), default=True, help_text=_("Off: the attribute only shows its description.")
    )
    datatype = models.CharField(_("datatype"), max_length=16, choices=Datatype.choices, default=Datatype.STRING)
    required = models.BooleanField(_("required"), default=False)
    datatype_description = models.CharField(_("datatype description"), max_length=255, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=1)
    description = models.CharField(_("question"), max_length=255)
    # For the list datatypes: [{"key": "...", "name": "..."}, ...]
    values = models.JSONField(_("values"), default=list, blank=True)
    # Feeds the discovery document's changeset: clients refresh cached definitions on change.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("service attribute")
        verbose_name_plural = _("service attributes")
        ordering = ["category", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="open311_attribute_code_per_category"),
            models.UniqueConstraint(fields=["category", "order"], name="open311_attribute_order_per_category"),
        ]

    def __str__(self) -> str:
        return f"{self.category.code}:{self.code}"


class ResidentIdentity(models.Model):
    """Which Sandan user an e-mail address or phone number sent by a client stands for.

    The unique constraint is what keeps two concurrent first posts from the same new
    resident from creating two accounts: the second insert fails and reads the winner's row."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("e-mail")
        PHONE = "phone", _("phone")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=254)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="open311_identities", verbose_name=_("user")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("resident identity")
        verbose_name_plural = _("resident identities")
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="open311_one_user_per_identity")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user_id}"


class Open311Request(models.Model):
    """The Open311 side of an order a client filed: who filed it and what came with it that
    the order has no field for. Seen in the admin only; never in a GET response."""

    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, related_name="open311", verbose_name=_("order")
    )
    client = models.ForeignKey(
        Open311Client, on_delete=models.PROTECT, related_name="requests", verbose_name=_("client")
    )
    resident_created = models.BooleanField(_("resident account created"), default=False)
    device_id = models.CharField(_("device id"), max_length=120, blank=True)
    media_url = models.URLField(_("media URL sent"), max_length=500, blank=True)
    attributes = models.JSONField(_("attribute answers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("Open311 request")
        verbose_name_plural = _("Open311 requests")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.order_id} via {self.client}"
