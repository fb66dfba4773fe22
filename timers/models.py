"""The record of SLA steps taken: one row per (order, step, anchor).

The worker finds due work by scanning orders whose timestamps are past their SLA (no job has
to be scheduled when an order changes state). A row here is the step's lease while it runs
and its proof once done; the unique constraint is what makes "each step exactly once" hold
between any number of worker processes.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Step(models.TextChoices):
    # Order order matters: a tick runs the steps in this order.
    REVIEW_ESCALATE = "review_escalate", _("escalate an order not reviewed in time")
    OFFER_WIDEN = "offer_widen", _("widen an offer nobody claimed in time")
    CLAIM_REMIND = "claim_remind", _("remind a volunteer who has not started")
    CLAIM_RELEASE = "claim_release", _("release a claim not started in time")
    CONFIRM_CLOSE = "confirm_close", _("close a completed order not confirmed in time")


class TimerStep(models.Model):
    """One SLA step for one order.

    `anchor` is the timestamp the SLA counts from (submitted_at for escalation, claimed_at for
    the start reminder and release, completed_at for the automatic close, the newest open
    offer's time for widening). A new claim or completion has a new anchor, so its steps run
    again; the same anchor never runs twice.
    """

    class State(models.TextChoices):
        LEASED = "leased", _("leased (running)")
        DONE = "done", _("done")
        FAILED = "failed", _("failed (gave up)")

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="timer_steps")
    step = models.CharField(_("step"), max_length=20, choices=Step.choices)
    anchor = models.DateTimeField(_("counted from"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.LEASED)
    # The worker holding the step and until when; after that another worker may take it over.
    owner = models.CharField(_("worker"), max_length=80, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # What happened: "fired", or why nothing needed doing ("stale": a person acted first).
    outcome = models.CharField(_("outcome"), max_length=20, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("timer step")
        verbose_name_plural = _("timer steps")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "step", "anchor"], name="one_timer_step_per_anchor"),
        ]
        indexes = [
            models.Index(fields=["state", "lease_until"], name="timerstep_leased"),
        ]

    def __str__(self) -> str:
        return f"{self.step} #{self.order_id} ({self.state})"


class DigestRun(models.Model):
    """One row per local day on which the desk digest went out: several workers, one digest."""

    day = models.DateField(_("day"), unique=True)
    sent = models.PositiveIntegerField(_("emails sent"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("desk digest")
        verbose_name_plural = _("desk digests")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"digest {self.day}"
