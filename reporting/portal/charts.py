"""Portal charts drawn on the server: no JavaScript, no CDN, nothing to load.

Bar charts are HTML with CSS widths and heights, so their labels are real text at the
page's font size and wrap instead of being clipped (an SVG scaled to a 390 px phone wrote
4 px labels, and cut "239.49 paid" at desktop width). The two rate rings stay small SVGs
shown at their own size. Every label is escaped; markup is marked safe only here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from payments.currencies import amount_format
from payments.models import PaymentStatus
from reporting.portal.selectors import DayPoint

STATUS_COLOURS = {
    "created": "#64748b",
    "pending": "#b45309",
    "succeeded": "#15803d",
    "failed": "#b91c1c",
    "expired": "#475569",
    "provider_error": "#6d28d9",
}
GREY = "#94a3b8"
BLUE = "#1d4ed8"
TEXT = "#1e293b"


def percent_text(rate: float | None) -> str:
    """Write a rate (0..1) as the dashboard shows it everywhere: "66.7%", or "n/a"."""
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def _nice_max(value: float) -> float:
    """Round an axis maximum up to 1, 2 or 5 x 10^n so gridlines land on round numbers."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)


def daily_volume_chart(points: Sequence[DayPoint]) -> SafeString:
    """Draw payments per day (grey) with the succeeded part (green) in front of it."""
    peak = _nice_max(max((p.created for p in points), default=0))
    total = sum(p.created for p in points)
    summary = f"Payments per day: {total} in {len(points)} days"
    columns = format_html_join(
        "",
        '<div class="day" data-day="{}" data-created="{}" data-succeeded="{}" title="{}">'
        '<span class="all" style="height:{}%"></span>'
        '<span class="ok" style="height:{}%"></span></div>',
        (
            (
                f"{p.day:%Y-%m-%d}",
                p.created,
                p.succeeded,
                f"{p.day:%d %b}: {p.created} payments, {p.succeeded} succeeded",
                f"{100 * p.created / peak:.1f}",
                f"{100 * p.succeeded / peak:.1f}",
            )
            for p in points
        ),
    )
    ticks = sorted({0, len(points) // 2, len(points) - 1}) if points else []
    x_labels = format_html_join("", "<span>{}</span>", ((f"{points[i].day:%d %b}",) for i in ticks))
    return format_html(
        '<figure class="chart chart-daily" role="img" aria-label="{}">'
        '<div class="y-axis" aria-hidden="true"><span>{}</span><span>{}</span><span>0</span></div>'
        '<div class="plot">{}</div><div class="x-axis" aria-hidden="true">{}</div></figure>',
        summary,
        f"{peak:g}",
        f"{peak // 2:g}" if peak % 2 == 0 else "",  # payments come whole: no "0.5" tick
        columns,
        x_labels,
    )


def horizontal_bars_chart(rows: Sequence[tuple[str, float, str, str]], *, label: str) -> SafeString:
    """Draw one labelled bar per row: (name, value, colour, value text)."""
    if not rows:
        return format_html(
            '<p class="chart chart-bars empty muted" aria-label="{}">No data in this range.</p>',
            label,
        )
    peak = max(v for _, v, _, _ in rows) or 1
    items = format_html_join(
        "",
        '<li class="bar" data-name="{}" data-value="{}"><span class="name">{}</span>'
        '<span class="track"><span class="fill" style="width:{}%;background:{}"></span></span>'
        '<span class="value">{}</span></li>',
        (
            (name, f"{value:g}", name, f"{max(100 * value / peak, 1):.1f}", colour, text)
            for name, value, colour, text in rows
        ),
    )
    return format_html('<ul class="chart chart-bars" aria-label="{}">{}</ul>', label, items)


def rate_ring_svg(rate: float | None, *, label: str, detail: str, size: int = 140) -> SafeString:
    """Draw a ring filled to `rate` (0..1) with the percentage in the middle."""
    r, stroke = size / 2 - 12, 14
    c = 2 * math.pi * r
    filled = c * (rate or 0)
    centre = size / 2
    text = percent_text(rate)
    body = [
        f"<title>{escape(label)}: {escape(text)} ({escape(detail)})</title>",
        f'<circle cx="{centre}" cy="{centre}" r="{r:.1f}" fill="none" stroke="#e2e8f0" '
        f'stroke-width="{stroke}"/>',
        f'<circle cx="{centre}" cy="{centre}" r="{r:.1f}" fill="none" stroke="{BLUE}" '
        f'stroke-width="{stroke}" stroke-dasharray="{filled:.1f} {c:.1f}" '
        f'transform="rotate(-90 {centre} {centre})"/>',
        f'<text x="{centre}" y="{centre + 7}" text-anchor="middle" font-size="22" '
        f'font-weight="600" fill="{TEXT}" class="rate-value">{text}</text>',
    ]
    return mark_safe(  # noqa: S308 - every interpolated label is escaped above
        f'<svg class="chart chart-ring" viewBox="0 0 {size} {size}" width="{size}" '
        f'height="{size}" role="img" aria-label="{escape(label)}: {escape(text)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">'
        + "".join(body)
        + "</svg>"
    )


def _currency_text(row) -> str:
    text = f"{row.count} payment{'s' if row.count != 1 else ''}"
    if row.succeeded:
        text += f" · {amount_format(row.succeeded_amount, row.currency)} {row.currency} paid"
    return text


def dashboard_charts(stats) -> dict[str, str]:
    """Draw the dashboard's five charts (and the conversion figure) from `dashboard_stats`."""
    status_rows = [
        (PaymentStatus(s).label, n, STATUS_COLOURS.get(s, GREY), f"{n}")
        for s, n in stats.by_status.items()
    ]
    currency_rows = [(c.currency, c.count, BLUE, _currency_text(c)) for c in stats.by_currency]
    return {
        "conversion_text": percent_text(stats.conversion),
        "chart_daily": daily_volume_chart(stats.days),
        "chart_status": horizontal_bars_chart(status_rows, label="Payments by status"),
        "chart_currency": horizontal_bars_chart(currency_rows, label="Payments by currency"),
        "chart_conversion": rate_ring_svg(
            stats.conversion,
            label="Conversion",
            detail=f"{stats.succeeded_all} of {stats.created_all} succeeded",
        ),
        "chart_delivery": rate_ring_svg(
            stats.delivery_success_rate,
            label="Postback delivery success",
            detail=f"{stats.deliveries_total} postbacks",
        ),
    }
