"""Server-rendered SVG charts: no JavaScript, no CDN, readable when printed.

Every label is escaped; numbers are formatted here, so the template only places the markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 44, 16, 36
COLOURS = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e"]


def bar_chart(
    labels: Sequence[str],
    bars: dict[str, Sequence[int]],
    *,
    line: tuple[str, Sequence[float | None]] | None = None,
    title: str = "",
) -> SafeString:
    """Grouped bars (counts, left axis) and an optional line (a rate 0–1, right axis)."""
    n = max(len(labels), 1)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    # Whole-number ticks at 0, half and top: the axis of counts never reads "1 / 0 / 0".
    top = max([max(values, default=0) for values in bars.values()] + [2])
    top += top % 2
    group_w = plot_w / n
    bar_w = max(group_w * 0.8 / max(len(bars), 1), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - PAD_RIGHT}" y2="{PAD_TOP + plot_h}" '
        'stroke="#555"/>',
    ]
    for tick in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - tick)
        parts.append(
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{int(top * tick)}</text>'
        )
        if line is not None:
            parts.append(
                f'<text x="{WIDTH - PAD_RIGHT + 6}" y="{y + 4:.1f}" font-size="11">{round(tick * 100)}%</text>'
            )
    for gi, label in enumerate(labels):
        x0 = PAD_LEFT + gi * group_w + group_w * 0.1
        for bi, (name, values) in enumerate(bars.items()):
            value = values[gi]
            h = plot_h * value / top
            x = x0 + bi * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[bi % len(COLOURS)]}"><title>{escape(label)} {escape(name)}: {value}</title></rect>'
            )
        if n <= 16 or gi % max(n // 12, 1) == 0:
            parts.append(
                f'<text x="{PAD_LEFT + (gi + 0.5) * group_w:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" '
                f'text-anchor="middle" font-size="10">{escape(label)}</text>'
            )
    if line is not None:
        name, rates = line
        points = [
            f"{PAD_LEFT + (gi + 0.5) * group_w:.1f},{PAD_TOP + plot_h * (1 - rate):.1f}"
            for gi, rate in enumerate(rates)
            if rate is not None
        ]
        if points:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{COLOURS[3]}" stroke-width="2">'
                f"<title>{escape(name)}</title></polyline>"
            )
    legend = [*bars.keys()] + ([line[0]] if line else [])
    for i, name in enumerate(legend):
        colour = COLOURS[i % len(COLOURS)] if i < len(bars) else COLOURS[3]
        x = PAD_LEFT + i * 150
        parts.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated label is escaped above
