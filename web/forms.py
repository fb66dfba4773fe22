"""Forms of the pages. They only parse; the rules live in the services."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.gcj02 import to_wgs84
from core.names import local_name
from orders.models import Category, Order
from orders.serializers import MAX_DESCRIPTION
from volunteers.models import Area
from web.labels import URGENCY_LABELS

PHONE_PATTERN = r"^\+?[0-9 ()-]{5,20}$"


def category_label(category: Category) -> str:
    return local_name(category)


class OrderForm(forms.Form):
    category = forms.ChoiceField(label=_("What do you need help with?"), widget=forms.RadioSelect)
    # Not required here: a voice note or a photo may say it instead (order_content_check).
    description = forms.CharField(
        label=_("Describe what you need"),
        max_length=MAX_DESCRIPTION,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_DESCRIPTION}),
    )
    urgency = forms.ChoiceField(
        label=_("How urgent is it?"), choices=list(URGENCY_LABELS.items()), initial=Order.Urgency.NORMAL
    )
    address = forms.CharField(label=_("Address"), max_length=255, required=False)
    grid = forms.ModelChoiceField(
        label=_("Neighbourhood"),
        queryset=Area.objects.none(),
        required=False,
        empty_label=_("— choose if you do not share your location —"),
    )
    contact_phone = forms.RegexField(
        label=_("Phone for the volunteer"), regex=PHONE_PATTERN, max_length=32, required=False
    )
    lat = forms.FloatField(min_value=-90, max_value=90, required=False, widget=forms.HiddenInput)
    lng = forms.FloatField(min_value=-180, max_value=180, required=False, widget=forms.HiddenInput)
    # A pin dropped or moved on the form's map, in the map's datum (MAP_TILE_CRS): shifted back
    # to WGS-84 here. It wins over the device's position: the resident put it there on purpose.
    pin_lat = forms.FloatField(min_value=-90, max_value=90, required=False, widget=forms.HiddenInput)
    pin_lng = forms.FloatField(min_value=-180, max_value=180, required=False, widget=forms.HiddenInput)
    # One key per rendering of the form (Idempotency-Key of the API): a resent form is one order.
    key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    photo = forms.FileField(label=_("Photo"), required=False)
    voice = forms.FileField(label=_("Voice message"), required=False)

    def __init__(self, *args: Any, has_home: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        categories = Category.objects.filter(active=True).order_by("sort", "code")
        category = cast(forms.ChoiceField, self.fields["category"])
        category.choices = [(c.code, category_label(c)) for c in categories]
        grid = cast(forms.ModelChoiceField, self.fields["grid"])
        grid.queryset = Area.objects.filter(level=Area.Level.GRID).order_by("name")
        grid.label_from_instance = local_name  # type: ignore[method-assign]
        self.has_home = has_home
        if not self.is_bound:
            self.initial["key"] = uuid.uuid4().hex

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("pin_lat") is not None and data.get("pin_lng") is not None:
            pin = (data["pin_lat"], data["pin_lng"])
            data["lat"], data["lng"] = to_wgs84(*pin) if settings.MAP_TILE_CRS == "gcj02" else pin
        if (data.get("lat") is None) != (data.get("lng") is None):
            data["lat"] = data["lng"] = None
        if data.get("lat") is None and data.get("grid") is not None:
            # A typed address with a chosen neighbourhood: route by the neighbourhood's centre.
            data["lat"], data["lng"] = data["grid"].center_lat, data["grid"].center_lng
        if data.get("lat") is None and not self.has_home:
            self.add_error("grid", _("Share your location or choose your neighbourhood."))
        return data


class CallMeForm(forms.Form):
    """The one-screen "call me back": what it is about, and a voice note if they like. The
    neighbourhood and the phone are asked only when the profile does not have them."""

    category = forms.ChoiceField(label=_("What is it about?"), widget=forms.RadioSelect)
    voice = forms.FileField(label=_("Voice message"), required=False)
    key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    grid = forms.ModelChoiceField(
        label=_("Neighbourhood"), queryset=Area.objects.none(), required=False, empty_label=_("— choose —")
    )
    contact_phone = forms.RegexField(label=_("Your phone number"), regex=PHONE_PATTERN, max_length=32, required=False)

    def __init__(self, *args: Any, has_home: bool = False, has_phone: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        category = cast(forms.ChoiceField, self.fields["category"])
        category.choices = [(c.code, category_label(c)) for c in Category.objects.filter(active=True)]
        self.has_home, self.has_phone = has_home, has_phone
        if has_home:
            del self.fields["grid"]
        else:
            grid = cast(forms.ModelChoiceField, self.fields["grid"])
            grid.queryset = Area.objects.filter(level=Area.Level.GRID).order_by("name")
            grid.label_from_instance = local_name  # type: ignore[method-assign]
            grid.required = True
        if has_phone:
            del self.fields["contact_phone"]
        else:
            self.fields["contact_phone"].required = True
        if not self.is_bound:
            self.initial["key"] = uuid.uuid4().hex


class LargeTypeForm(forms.Form):
    on = forms.BooleanField(required=False)


class DutyForm(forms.Form):
    on_duty = forms.BooleanField(required=False)


def action_data(post) -> dict[str, Any]:
    """A form POST as an action body: empty inputs are left out, lists stay lists."""
    data: dict[str, Any] = {}
    for key in post:
        if key in {"csrfmiddlewaretoken", "next"}:
            continue
        values = [v for v in post.getlist(key) if v.strip() != ""]
        if not values:
            continue
        data[key] = values if key == "volunteers" else values[0]
    return data


class NearbyForm(forms.Form):
    """What the request form knows so far, for "already reported nearby?"."""

    category = forms.SlugField(max_length=40)
    lat = forms.FloatField(min_value=-90, max_value=90, required=False)
    lng = forms.FloatField(min_value=-180, max_value=180, required=False)
    grid = forms.ModelChoiceField(queryset=Area.objects.filter(level=Area.Level.GRID), required=False)
    text = forms.CharField(max_length=MAX_DESCRIPTION, required=False)
