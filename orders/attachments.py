"""Photo and voice attachments, checked by content, never by name or declared type.

Photos are decoded and re-encoded with Pillow: whatever rode along in the file (EXIF with the
GPS position of the resident's home, trailing bytes, a polyglot payload) does not survive.
Voice notes must parse as audio (mutagen) within a size and duration limit.
"""

from __future__ import annotations

import io
import re
import secrets
import warnings

import mutagen
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from orders.errors import InvalidInput, InvalidTransition, NotPermitted
from orders.models import Attachment, Order
from orders.selectors import order_get_for
from orders.states import Role, Status

MAX_SIDE = 2048

# Who may attach, and while the order is in which states.
_RESIDENT_STATES = {Status.SUBMITTED, Status.ACCEPTED, Status.DISPATCHED, Status.CLAIMED, Status.IN_PROGRESS}
_VOLUNTEER_STATES = {Status.IN_PROGRESS, Status.COMPLETED}

_AUDIO_TYPES = {
    "OggOpus": ("audio/ogg", "ogg"),
    "OggVorbis": ("audio/ogg", "ogg"),
    "MP3": ("audio/mpeg", "mp3"),
    "MP4": ("audio/mp4", "m4a"),
    "WAVE": ("audio/wav", "wav"),
    "FLAC": ("audio/flac", "flac"),
}


def _clean_photo(upload: UploadedFile) -> tuple[bytes, str, str]:
    if upload.size is not None and upload.size > settings.SANDAN["MAX_PHOTO_BYTES"]:
        raise InvalidInput(fields={"file": [_("The photo is too large.")]})
    raw = upload.read()
    too_many = InvalidInput(fields={"file": [_("The photo has too many pixels.")]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the header is read here: a few bytes may claim 100,000 × 100,000 pixels, and
            # the size is refused before anything is decoded (MAX_PHOTO_PIXELS).
            probe = Image.open(io.BytesIO(raw))
            if probe.width * probe.height > settings.SANDAN["MAX_PHOTO_PIXELS"]:
                raise too_many
            probe.verify()
            decoded: Image.Image = Image.open(io.BytesIO(raw))
            decoded.load()
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many from None  # beyond even Pillow's own limit, checked while opening
    except Exception:  # noqa: BLE001 - Pillow raises many kinds on hostile input (IndexError, struct.error...)
        raise InvalidInput(fields={"file": [_("This file is not a photo we can read.")]}) from None
    image = (ImageOps.exif_transpose(decoded) or decoded).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    # No exif= argument: the re-encoded JPEG carries no metadata at all.
    image.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue(), "image/jpeg", "jpg"


def _clean_voice(upload: UploadedFile) -> tuple[bytes, str, str, float]:
    if upload.size is not None and upload.size > settings.SANDAN["MAX_AUDIO_BYTES"]:
        raise InvalidInput(fields={"file": [_("The recording is too large.")]})
    raw = upload.read()
    try:
        audio = mutagen.File(io.BytesIO(raw))
    except Exception:  # noqa: BLE001 - mutagen raises many kinds on hostile input
        audio = None
    kind = type(audio).__name__ if audio is not None else ""
    if kind not in _AUDIO_TYPES or not getattr(audio.info, "length", 0):
        raise InvalidInput(fields={"file": [_("This file is not a recording we can play.")]})
    length = float(audio.info.length)
    if length > settings.SANDAN["MAX_AUDIO_SECONDS"]:
        raise InvalidInput(fields={"file": [_("The recording is too long.")]})
    content_type, extension = _AUDIO_TYPES[kind]
    return raw, content_type, extension, length


@transaction.atomic
def order_attach(*, order_id: int, user, kind: str, upload: UploadedFile) -> Attachment:
    """Attach a photo or voice note: the resident while the order is open, the assigned
    volunteer as proof of completion."""
    order, roles = order_get_for(user, order_id)
    as_resident = Role.RESIDENT in roles and order.status in _RESIDENT_STATES
    as_volunteer = Role.ASSIGNED in roles and order.status in _VOLUNTEER_STATES
    if as_resident or as_volunteer:
        pass
    elif roles & {Role.RESIDENT, Role.ASSIGNED}:
        raise InvalidTransition(_("Attachments cannot be added in the order's current state."))
    else:
        raise NotPermitted()
    Order.objects.select_for_update().filter(pk=order.pk).first()
    if order.attachments.count() >= settings.SANDAN["MAX_ATTACHMENTS_PER_ORDER"]:
        raise InvalidInput(fields={"file": [_("This order has as many attachments as it may.")]})
    duration = None
    if kind == Attachment.Kind.PHOTO:
        data, content_type, extension = _clean_photo(upload)
    elif kind == Attachment.Kind.VOICE:
        data, content_type, extension, duration = _clean_voice(upload)
    else:
        raise InvalidInput(fields={"kind": [_("Choose photo or voice.")]})
    attachment = Attachment(
        order=order,
        uploaded_by=user,
        kind=kind,
        token=secrets.token_hex(16),
        extension=extension,
        content_type=content_type,
        size=len(data),
        duration_s=duration,
    )
    attachment.file.save("upload", ContentFile(data), save=False)
    attachment.save()
    return attachment


def attachment_for(user, token: str) -> Attachment:
    """An attachment for download, if the caller may see the order's personal data."""
    from orders.errors import OrderNotFound
    from orders.selectors import can_see_personal_data

    # Tokens are 32 hex digits; anything else is no token (and a NUL would upset PostgreSQL).
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        raise OrderNotFound()
    attachment = Attachment.objects.select_related("order").filter(token=token).first()
    if attachment is None:
        raise OrderNotFound()
    order, roles = order_get_for(user, attachment.order_id)
    if not can_see_personal_data(roles, order):
        raise OrderNotFound()
    return attachment
