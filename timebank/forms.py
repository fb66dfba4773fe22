"""The time-bank desk's adjustment form. It only parses; the rules (who may adjust what, the
limits, the reason) live in `orders.services.order_timebank_adjust` and
`timebank.services.timebank_adjust`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class AdjustForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Volunteer"), coerce=int)
    order = forms.IntegerField(label=_("Request number"), min_value=1)
    amount = forms.DecimalField(label=_("Hours (+ to add, − to take back)"), max_digits=5, decimal_places=2)
    # Required, but by the service, which reports it with every other problem at once.
    reason = forms.CharField(
        label=_("Reason"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, people: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = self.fields["user"]
        assert isinstance(user, forms.TypedChoiceField)
        user.choices = [("", "—"), *people]
