"""Small server-made SVG line charts (no JavaScript, no library): rate curves and histories.

Values arrive as exact integers; only the drawing converts them to pixel coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

WIDTH: Final = 640
HEIGHT: Final = 280
PAD: Final = 44
COLORS: Final = ("#1f5fbf", "#b3470f", "#2a7a2a")


def line_chart(
    title: str,
    xs: Sequence[int],
    series: Sequence[tuple[str, Sequence[int]]],
    x_label: str,
    y_label: str,
    y_scale: int,
    x_scale: int,
    marker: tuple[int, int] | None = None,
) -> str:
    """An SVG with one polyline per series. ``y_scale``/``x_scale`` turn the integers into the
    axis units shown (e.g. 10**25 for percent of a ray); ``marker`` is an (x, y) point."""
    x_max = max(max(xs, default=1), 1)
    y_max = max([max(ys, default=0) for _, ys in series] + [y_scale] + ([marker[1]] if marker else []))
    w, h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def px(x: int, y: int) -> str:
        return f"{PAD + w * x / x_max:.1f},{HEIGHT - PAD - h * y / y_max:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#333"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#333"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="12" y="{HEIGHT / 2}" transform="rotate(-90 12 {HEIGHT / 2})" '
        f'text-anchor="middle">{escape(y_label)}</text>',
        f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end">{y_max / y_scale:.4g}</text>',
        f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end">0</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end">{x_max / x_scale:.6g}</text>',
    ]
    if len(xs) < 2:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">not enough blocks yet</text>'
        )
    legend_x = PAD  # the legend is one line above the plot, where no line can run through it
    for i, (name, ys) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        points = " ".join(px(x, y) for x, y in zip(xs, ys, strict=True))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        parts.append(f'<text x="{legend_x}" y="{PAD - 16}" fill="{color}">{escape(name)}</text>')
        legend_x += 6 * len(name) + 20  # ~6 px a character at 12 px, then a gap
    if marker is not None:
        x, y = px(*marker).split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="5" fill="#000"><title>now</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
