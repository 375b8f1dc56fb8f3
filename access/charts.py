"""Charts for the review dashboard, drawn as inline SVG on the server: no script, no outside
asset, readable without JavaScript, and allowed by the Content-Security-Policy."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .selectors_review import HourlyChart

TIER_COLOURS = {
    "anonymous": "#8c8c8c",
    "restricted": "#c0392b",
    "new": "#e67e22",
    "unverified": "#2e86c1",
    "verified": "#27ae60",
    "unlimited": "#7d3c98",
}
FALLBACK_COLOUR = "#34495e"
WIDTH, HEIGHT = 860, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 36


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value``."""
    if value <= 0:
        return 10
    step = 1
    while step * 10 < value:
        step *= 10
    for factor in (1, 2, 2.5, 5, 10):
        if step * factor >= value:
            return int(step * factor)
    return value


def _axes(title: str, top: int, plot_w: float, plot_h: float) -> list[str]:
    """The opening of a chart: the <svg> with its title, grid lines and y-axis labels."""
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{value:g}</text>'
        )
    return parts


def stacked_bars_svg(chart: HourlyChart, *, title: str, label_every: int) -> SafeString:
    """Posts per hour as bars stacked by tier, with a y axis, hour labels and a <title> per bar."""
    hours = len(chart.hours)
    totals = [sum(series.values[i] for series in chart.series) for i in range(hours)]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(hours, 1)
    bar = max(slot * 0.8, 1)
    parts = _axes(title, top, plot_w, plot_h)
    for i, hour in enumerate(chart.hours):
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h
        for series in chart.series:
            value = series.values[i]
            if not value:
                continue
            height = plot_h * value / top
            y -= height
            colour = TIER_COLOURS.get(series.name, FALLBACK_COLOUR)
            label = f"{hour:%Y-%m-%d %H:00} UTC · {series.name}: {value} posts"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>{escape(label)}</title></rect>'
            )
        if i % label_every == 0:
            text = f"{hour:%H}" if label_every < 24 else f"{hour:%a %d}"
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" class="axis" '
                f'text-anchor="middle">{escape(text)}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'class="baseline"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def daily_bars_svg(days: list[dict], *, title: str) -> SafeString:
    """One bar per UTC day (``{"day", "posts"}``), a label every seventh day: the licensed
    lane's usage charts (licensees' and reviewers')."""
    top = _nice_max(max((day["posts"] for day in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8, 1)
    parts = _axes(title, top, plot_w, plot_h)
    for i, day in enumerate(days):
        height = plot_h * day["posts"] / top
        x = LEFT + i * slot + (slot - bar) / 2
        label = f"{day['day']:%Y-%m-%d}: {day['posts']:,} posts"
        parts.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar:.1f}" '
            f'height="{height:.1f}" fill="{TIER_COLOURS["unverified"]}">'
            f"<title>{escape(label)}</title></rect>"
        )
        if i % 7 == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" class="axis" '
                f'text-anchor="middle">{day["day"]:%m-%d}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'class="baseline"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def legend(chart: HourlyChart) -> list[dict]:
    """The tiers shown, with their colour and total, for the chart's legend."""
    return [
        {
            "name": series.name,
            "colour": TIER_COLOURS.get(series.name, FALLBACK_COLOUR),
            "total": sum(series.values),
        }
        for series in chart.series
    ]
