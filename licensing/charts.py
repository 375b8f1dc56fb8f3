"""The usage chart: posts charged per UTC day, as inline SVG drawn on the server (no script,
allowed by the Content-Security-Policy), like the review dashboard's charts."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 860, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 32


def _nice_max(value: int) -> int:
    if value <= 0:
        return 10
    step = 1
    while step * 10 < value:
        step *= 10
    for factor in (1, 2, 2.5, 5, 10):
        if step * factor >= value:
            return int(step * factor)
    return value


def daily_bars_svg(days: list[dict], *, title: str) -> SafeString:
    """One bar per day (``{"day", "posts"}``), a y axis and a label every seventh day."""
    top = _nice_max(max((d["posts"] for d in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8, 1)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        y = TOP + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{top * step / 4:g}</text>"
        )
    for i, day in enumerate(days):
        height = plot_h * day["posts"] / top
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h - height
        label = f"{day['day']:%Y-%m-%d}: {day['posts']:,} posts"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
            f'fill="#2e86c1"><title>{escape(label)}</title></rect>'
        )
        if i % 7 == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 10}" class="axis" '
                f'text-anchor="middle">{day["day"]:%m-%d}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped
