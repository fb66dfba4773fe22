"""The monthly review of one branch: the figures, day by day, the most active volunteers,
the lowest-rated orders, room for the review's comments and signatures; rendered as a
printable page (template) and as a PDF (reportlab).

The PDF embeds the CJK font the app ships (`stats/fonts/`, a subset of Noto Sans SC): a
reader-side font (reportlab's CID fonts) prints blank where the reader or printer has none.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from core.names import local_name
from stats.figures import Cohort, figures
from stats.periods import month_bounds
from stats.selectors import lowest_rated, most_active_volunteers, series_even
from volunteers.models import Branch


@dataclass
class MonthlyReview:
    branch: Branch
    start: date
    end: date
    figures: dict[str, Any]
    volunteers: list[dict[str, Any]]
    lowest: list[Any]
    days: list[dict[str, Any]] = field(default_factory=list)  # every day of the month, zeros included

    @property
    def month(self) -> str:
        return f"{self.start:%Y-%m}"


def monthly_review(branch: Branch, year: int, month: int) -> MonthlyReview:
    start, end = month_bounds(year, month)
    cohort = Cohort(start, end, branch_ids=(branch.pk,))
    return MonthlyReview(
        branch=branch,
        start=start,
        end=end,
        figures=figures(cohort),
        volunteers=most_active_volunteers(cohort, limit=10),
        lowest=list(lowest_rated(cohort, limit=10)),
        days=series_even(cohort, start=start, end=end, by="day"),
    )


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def minutes(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 120:
        return _("%(n)s min") % {"n": f"{value:.0f}"}
    return _("%(n)s h") % {"n": f"{value / 60:.1f}"}


def figure_rows(f: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) in the order both the page and the PDF show them."""
    reviews = f["reviews"]
    return [
        (_("Orders received"), str(f["received"])),
        (_("Accepted"), str(f["accepted"])),
        (_("Closed"), str(f["closed"])),
        (_("Completion rate (closed ÷ accepted)"), percent(f["completion_rate"])),
        (_("Satisfaction rate (ratings ≥ 4)"), f"{percent(f['satisfaction_rate'])} ({f['satisfied']}/{f['ratings']})"),
        (_("Median time to review"), minutes(f["median_minutes_to_review"])),
        (_("Median time to claim"), minutes(f["median_minutes_to_claim"])),
        (_("Median time to complete"), minutes(f["median_minutes_to_complete"])),
        (_("Reopen rate"), f"{percent(f['reopen_rate'])} ({f['reopened']})"),
        (_("Overdue now"), str(f["overdue"])),
        (
            _("Call-backs: confirmed / not as reported / unreachable"),
            f"{reviews['confirmed']} / {reviews['not_as_reported']} / {reviews['unreachable']}",
        ),
    ]


FONT_FILE = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-Sandan.ttf"
FONT = "SandanCJK"  # Noto Sans SC, subset and shipped with the app (stats/fonts, OFL)
FALLBACK_FONT = "STSong-Light"  # the reader's own Song font, for a character the subset lacks


def _fonts() -> frozenset[int]:
    """Register the shipped font (once per process); the code points it has."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE)))
    if FALLBACK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return frozenset(pdfmetrics.getFont(FONT).face.charToGlyph)


def _markup(text: str, covered: frozenset[int]) -> str:
    """Escaped paragraph markup; runs of characters the shipped font lacks (a rare character
    in a name or a comment) are set in the fallback font rather than printed as blanks."""
    from xml.sax.saxutils import escape

    out: list[str] = []
    for missing, run in groupby(text, key=lambda ch: ord(ch) not in covered and not ch.isspace()):
        chunk = escape("".join(run))
        out.append(f'<font name="{FALLBACK_FONT}">{chunk}</font>' if missing else chunk)
    return "".join(out)


def _chart(labels: list[str], bars: list[tuple[str, list[int], str]], title: str, width: float, height: float):
    """A bar chart (reportlab graphics) in the shipped font: every day of the month on the axis."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 30, 30
    chart.width, chart.height = width - 40, height - 60
    chart.data = [values for _name, values, _colour in bars]
    top = max([max(values, default=0) for _n, values, _c in bars] + [2])
    top += top % 2
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, top, max(top // 2, 1)
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = [label if i % 2 == 0 else "" for i, label in enumerate(labels)]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6
    chart.barSpacing = 0.5
    chart.groupSpacing = 2
    for i, (_name, _values, colour) in enumerate(bars):
        chart.bars[i].fillColor = colors.HexColor(colour)
        chart.bars[i].strokeColor = None
    drawing.add(chart)
    drawing.add(String(30, height - 14, title, fontName=FONT, fontSize=10))
    legend = Legend()
    legend.x, legend.y = width - 150, height - 8
    legend.fontName, legend.fontSize = FONT, 8
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.deltax = 70
    legend.colorNamePairs = [(colors.HexColor(colour), name) for name, _values, colour in bars]
    drawing.add(legend)
    return drawing


def render_pdf(review: MonthlyReview) -> bytes:
    """The monthly review as a PDF that prints the same everywhere: the CJK font is embedded
    (no reader-side font needed), the daily charts show every day of the month, and the last
    part leaves room for the review's comments and the signatures."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    covered = _fonts()
    title_style = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, spaceAfter=4)
    h2 = ParagraphStyle("h2", fontName=FONT, fontSize=12, leading=18, spaceBefore=10, spaceAfter=4)
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13)
    branch_name = local_name(review.branch)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        # Paragraph reads a mini-markup: user text is escaped before it gets there.
        return Paragraph(_markup(text, covered), style)

    def table(rows: list[list[str]], widths: list[float], *, heights: list[float] | None = None) -> Table:
        t = Table([[p(c) for c in row] for row in rows], colWidths=widths, rowHeights=heights, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{branch_name} {review.month}",
    )
    width = A4[0] - 36 * mm
    labels = [f"{row['bucket']:%d}" for row in review.days]
    story: list[Any] = [
        p(_("Monthly review: %(branch)s, %(month)s") % {"branch": branch_name, "month": review.month}, title_style),
        p(
            _("Orders received %(start)s to %(end)s; printed %(now)s.")
            % {"start": review.start, "end": review.end, "now": timezone.localtime().strftime("%Y-%m-%d %H:%M")}
        ),
        p(_("Figures"), h2),
        table([[_("Figure"), _("Value")], *[[a, b] for a, b in figure_rows(review.figures)]], [110 * mm, 60 * mm]),
        p(_("Day by day"), h2),
        _chart(
            labels,
            [
                (_("received"), [r["received"] for r in review.days], "#1f6feb"),
                (_("closed"), [r["closed"] for r in review.days], "#2da44e"),
            ],
            _("Orders by day of submission"),
            width,
            150,
        ),
        _chart(
            labels,
            [
                (_("ratings"), [r["ratings"] for r in review.days], "#bf8700"),
                (_("4–5 stars"), [r["satisfied"] for r in review.days], "#cf222e"),
            ],
            _("Ratings"),
            width,
            150,
        ),
        p(_("Most active volunteers"), h2),
    ]
    if review.volunteers:
        rows = [[_("Volunteer"), _("Orders closed"), _("Hours")]]
        rows += [[v["name"], str(v["orders"]), str(v["hours"] or 0)] for v in review.volunteers]
        story.append(table(rows, [90 * mm, 40 * mm, 40 * mm]))
    else:
        story.append(p(_("No order was closed.")))
    story.append(p(_("Lowest-rated orders"), h2))
    if review.lowest:
        rows = [[_("Order no."), _("Category"), _("Rating"), _("Volunteer"), _("Comment")]]
        rows += [
            [f"#{r.order_id}", local_name(r.order.category), "★" * r.rating, str(r.volunteer or "—"), r.comment or ""]
            for r in review.lowest
        ]
        story.append(table(rows, [18 * mm, 32 * mm, 20 * mm, 30 * mm, 74 * mm]))
    else:
        story.append(p(_("No rating below four stars.")))
    story.append(Spacer(1, 6 * mm))
    story.append(
        KeepTogether(
            [
                p(_("Review"), h2),
                table([[_("Comments of the review meeting")], [""]], [width], heights=[7 * mm, 45 * mm]),
                Spacer(1, 6 * mm),
                table(
                    [[_("Branch secretary"), _("Community staff")], [_("Signature and date"), _("Signature and date")]],
                    [width / 2, width / 2],
                    heights=[7 * mm, 24 * mm],
                ),
            ]
        )
    )
    doc.build(story)
    return buffer.getvalue()
