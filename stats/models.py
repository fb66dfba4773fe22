"""Sampling reviews (回訪抽查): staff call back a random share of a period's closed orders."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ReviewSample(models.Model):
    """One draw: `percent` % of the closed orders of [start, end] in a branch or an area."""

    branch = models.ForeignKey(
        "volunteers.Branch", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("branch")
    )
    area = models.ForeignKey(
        "volunteers.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("area")
    )
    start = models.DateField(_("closed from"))
    end = models.DateField(_("closed until"))
    percent = models.DecimalField(
        _("percent drawn"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0.01), MaxValueValidator(100)],
    )
    population = models.PositiveIntegerField(_("closed orders in the period"))
    drawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("drawn at"), auto_now_add=True)

    class Meta:
        verbose_name = _("review sample")
        verbose_name_plural = _("review samples")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(branch__isnull=False, area__isnull=True) | Q(branch__isnull=True, area__isnull=False),
                name="review_sample_one_scope",
            )
        ]

    def __str__(self) -> str:
        return f"{self.branch or self.area} {self.start}–{self.end} ({self.percent}%)"


class ReviewItem(models.Model):
    """One order to call back, and what the call found."""

    class Result(models.TextChoices):
        CONFIRMED = "confirmed", _("confirmed")
        NOT_AS_REPORTED = "not_as_reported", _("not as reported")
        UNREACHABLE = "unreachable", _("unreachable")

    sample = models.ForeignKey(ReviewSample, on_delete=models.CASCADE, related_name="items")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="review_items")
    result = models.CharField(_("result"), max_length=16, choices=Result.choices, blank=True)
    note = models.TextField(_("note"), blank=True, max_length=1000)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    reviewed_at = models.DateTimeField(_("called back at"), null=True, blank=True)

    class Meta:
        verbose_name = _("review call")
        verbose_name_plural = _("review calls")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["sample", "order"], name="review_item_once_per_sample"),
        ]
        indexes = [models.Index(fields=["order", "result"])]

    def __str__(self) -> str:
        return f"#{self.order_id}: {self.result or '-'}"


class RatedOrder(models.Model):
    """Ratings per order, next to the order's branch, category and submission time.

    A read model for the satisfaction rate: joining every rating to its order cost most of
    a street-year's figures (bench/stats.py). On PostgreSQL, triggers on `orders_rating`
    (insert, update, delete) and on `orders_order` (branch, category or submission time
    changed) keep it exact in the same transaction as the change (stats/migrations/0003).
    On SQLite nothing maintains it and the figures join the ratings instead.
    """

    order = models.OneToOneField(
        "orders.Order", on_delete=models.DO_NOTHING, db_constraint=False, primary_key=True, related_name="+"
    )
    branch = models.ForeignKey("volunteers.Branch", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    category = models.ForeignKey("orders.Category", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    created_at = models.DateTimeField()
    ratings = models.PositiveIntegerField()
    satisfied = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("rated order")
        verbose_name_plural = _("rated orders")
        indexes = [
            models.Index(
                fields=["branch", "created_at"],
                include=["category", "ratings", "satisfied"],
                name="stats_rated_cohort_idx",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.order_id}: {self.satisfied}/{self.ratings}"
