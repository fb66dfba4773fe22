"""The monthly review of one branch: the figures, the most active volunteers, the
lowest-rated orders; rendered as a printable page (template) and as a PDF (reportlab).

The PDF uses reportlab's built-in CID font STSong-Light (Adobe-GB1): Chinese text renders
in any PDF reader without shipping a font file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from stats.figures import Cohort, figures
from stats.periods import month_bounds
from stats.selectors import lowest_rated, most_active_volunteers
from volunteers.models import Branch

CJK_FONT = "STSong-Light"


@dataclass
class MonthlyReview:
    branch: Branch
    start: date
    end: date
    figures: dict[str, Any]
    volunteers: list[dict[str, Any]]
    lowest: list[Any]

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


def render_pdf(review: MonthlyReview) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    title_style = ParagraphStyle("title", fontName=CJK_FONT, fontSize=16, leading=22, spaceAfter=4)
    h2 = ParagraphStyle("h2", fontName=CJK_FONT, fontSize=12, leading=18, spaceBefore=10, spaceAfter=4)
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=9, leading=13)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        # Paragraph reads a mini-markup: user text is escaped before it gets there.
        from xml.sax.saxutils import escape

        return Paragraph(escape(text), style)

    def table(rows: list[list[str]], widths: list[float]) -> Table:
        t = Table([[p(c) for c in row] for row in rows], colWidths=widths, repeatRows=1)
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
        title=f"{review.branch.name} {review.month}",
    )
    story: list[Any] = [
        p(
            _("Monthly review: %(branch)s, %(month)s") % {"branch": review.branch.name, "month": review.month},
            title_style,
        ),
        p(
            _("Orders received %(start)s to %(end)s; printed %(now)s.")
            % {"start": review.start, "end": review.end, "now": timezone.localtime().strftime("%Y-%m-%d %H:%M")}
        ),
        p(_("Figures"), h2),
        table([[_("Figure"), _("Value")], *[[a, b] for a, b in figure_rows(review.figures)]], [110 * mm, 60 * mm]),
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
            [f"#{r.order_id}", r.order.category.name, "★" * r.rating, str(r.volunteer or "—"), r.comment or ""]
            for r in review.lowest
        ]
        story.append(table(rows, [18 * mm, 32 * mm, 20 * mm, 30 * mm, 74 * mm]))
    else:
        story.append(p(_("No rating below four stars.")))
    story.append(Spacer(1, 6 * mm))
    doc.build(story)
    return buffer.getvalue()
