"""Server-side SVG charts for the portal: no JavaScript, no CDN, nothing to load.

Each function takes already-aggregated numbers (see selectors.dashboard_stats) and
returns a small inline SVG. Labels are escaped; the markup is marked safe only here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from payments.models import PaymentStatus
from reporting.portal.selectors import DayPoint

STATUS_COLOURS = {
    "created": "#94a3b8",
    "pending": "#f59e0b",
    "succeeded": "#16a34a",
    "failed": "#dc2626",
    "expired": "#64748b",
    "provider_error": "#7c3aed",
}
GREY = "#cbd5e1"
GREEN = "#16a34a"
BLUE = "#2563eb"
TEXT = "#334155"


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


def _svg(
    width: int, height: int, label: str, body: list[str], css_class: str, font_size: int = 11
) -> SafeString:
    return mark_safe(  # noqa: S308 - every interpolated label is escaped above
        f'<svg class="chart {css_class}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="{font_size}">' + "".join(body) + "</svg>"
    )


def daily_volume_svg(
    points: Sequence[DayPoint], *, width: int = 720, height: int = 220
) -> SafeString:
    """Draw payments per day (grey) with the succeeded part (green) in front."""
    left, right, top, bottom = 40, 10, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((p.created for p in points), default=0))
    body: list[str] = []
    for i in range(5):
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT}">{value:g}</text>'
        )
    n = max(len(points), 1)
    slot = plot_w / n
    bar = max(slot * 0.8, 1)
    for i, p in enumerate(points):
        x = left + i * slot + (slot - bar) / 2
        h_all = plot_h * p.created / peak
        h_ok = plot_h * p.succeeded / peak
        tip = escape(f"{p.day:%Y-%m-%d}: {p.created} payments, {p.succeeded} succeeded")
        body.append(
            f'<g class="day" data-day="{p.day:%Y-%m-%d}" data-created="{p.created}" '
            f'data-succeeded="{p.succeeded}"><title>{tip}</title>'
            f'<rect x="{x:.1f}" y="{top + plot_h - h_all:.1f}" width="{bar:.1f}" '
            f'height="{h_all:.1f}" fill="{GREY}"/>'
            f'<rect x="{x:.1f}" y="{top + plot_h - h_ok:.1f}" width="{bar:.1f}" '
            f'height="{h_ok:.1f}" fill="{GREEN}"/></g>'
        )
    for i in sorted({0, n // 2, n - 1}) if points else []:
        x = left + i * slot + slot / 2
        body.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="{TEXT}">'
            f"{points[i].day:%d %b}</text>"
        )
    return _svg(width, height, "Payments per day", body, "chart-daily")


def horizontal_bars_svg(
    rows: Sequence[tuple[str, float, str, str]], *, label: str, width: int = 280
) -> SafeString:
    """Draw one labelled bar per row: (name, value, colour, value text)."""
    row_h, name_w, value_w = 26, 86, 110
    height = max(len(rows), 1) * row_h + 8
    peak = max((v for _, v, _, _ in rows), default=0) or 1
    body: list[str] = []
    if not rows:
        body.append(f'<text x="4" y="18" fill="{TEXT}">No data in this range</text>')
    for i, (name, value, colour, text) in enumerate(rows):
        y = 4 + i * row_h
        w = (width - name_w - value_w) * value / peak
        body.append(
            f'<g class="bar" data-name="{escape(name)}" data-value="{value:g}">'
            f"<title>{escape(name)}: {escape(text)}</title>"
            f'<text x="0" y="{y + 15}" fill="{TEXT}">{escape(name)}</text>'
            f'<rect x="{name_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 8}" '
            f'rx="2" fill="{colour}"/>'
            f'<text x="{name_w + w + 6:.1f}" y="{y + 15}" fill="{TEXT}">{escape(text)}</text></g>'
        )
    return _svg(width, height, label, body, "chart-bars", font_size=13)


def rate_ring_svg(rate: float | None, *, label: str, detail: str, size: int = 140) -> SafeString:
    """Draw a ring filled to `rate` (0..1) with the percentage in the middle."""
    r, stroke = size / 2 - 12, 14
    c = 2 * math.pi * r
    filled = c * (rate or 0)
    centre = size / 2
    text = "n/a" if rate is None else f"{rate * 100:.1f}%"
    body = [
        f"<title>{escape(label)}: {escape(text)} ({escape(detail)})</title>",
        f'<circle cx="{centre}" cy="{centre}" r="{r:.1f}" fill="none" stroke="#e2e8f0" '
        f'stroke-width="{stroke}"/>',
        f'<circle cx="{centre}" cy="{centre}" r="{r:.1f}" fill="none" stroke="{BLUE}" '
        f'stroke-width="{stroke}" stroke-dasharray="{filled:.1f} {c:.1f}" '
        f'transform="rotate(-90 {centre} {centre})"/>',
        f'<text x="{centre}" y="{centre + 6}" text-anchor="middle" font-size="20" '
        f'font-weight="600" fill="{TEXT}" class="rate-value">{text}</text>',
    ]
    return _svg(size, size, label, body, "chart-ring")


def dashboard_charts(stats) -> dict[str, str]:
    """Draw the portal dashboard's five charts from `reporting.portal.selectors.dashboard_stats`."""
    status_rows = [
        (PaymentStatus(s).label, n, STATUS_COLOURS.get(s, GREY), f"{n}")
        for s, n in stats.by_status.items()
    ]
    currency_rows = [
        (c.currency, c.count, BLUE, f"{c.count} · {c.succeeded_amount:,.2f} paid")
        for c in stats.by_currency
    ]
    return {
        "chart_daily": daily_volume_svg(stats.days),
        "chart_status": horizontal_bars_svg(status_rows, label="Payments by status"),
        "chart_currency": horizontal_bars_svg(currency_rows, label="Payments by currency"),
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
