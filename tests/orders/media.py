"""Small real media files made on the fly: a JPEG carrying EXIF GPS, WAV recordings."""

from __future__ import annotations

import io
import wave

from PIL import ExifTags, Image

# Where the resident's camera says the photo was taken (their home): must never be stored.
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (31.0, 13.0, 48.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (121.0, 28.0, 12.0),
}


def jpeg_bytes(size: tuple[int, int] = (64, 48), *, gps: bool = True) -> bytes:
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SandanCam"
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def wav_bytes(seconds: float = 1.0, *, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * int(seconds * rate))
    return out.getvalue()
