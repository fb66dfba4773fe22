"""Draw the app icons (run once: `python -m web.icons`): three white bars (三, "three") on the
Sandan red. No font needed, so the icons look the same on any machine."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent / "static" / "web" / "icons"
RED = (183, 28, 28)


def draw(size: int, maskable: bool) -> Image.Image:
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0) if not maskable else (*RED, 255))
    d = ImageDraw.Draw(img)
    if not maskable:
        d.rounded_rectangle([0, 0, size - 1, size - 1], radius=size // 5, fill=(*RED, 255))
    safe = 0.6 if maskable else 0.72  # maskable icons keep content in the central 80 % circle
    w = size * safe
    bar = size * 0.085
    ys = [0.30, 0.47, 0.66] if not maskable else [0.34, 0.48, 0.64]
    widths = [0.78, 0.62, 1.0]
    for y, f in zip(ys, widths, strict=True):
        bw = w * f
        bx = (size - bw) / 2
        d.rounded_rectangle([bx, size * y, bx + bw, size * y + bar], radius=bar / 2, fill=(255, 255, 255, 255))
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    draw(192, False).save(OUT / "icon-192.png", optimize=True)
    draw(512, False).save(OUT / "icon-512.png", optimize=True)
    draw(512, True).save(OUT / "maskable-512.png", optimize=True)


if __name__ == "__main__":
    main()
