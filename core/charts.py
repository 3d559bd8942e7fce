"""Bar charts of a branch's figures as PNG images, for the chat's /stats and the monthly
report. matplotlib is imported only when a chart is drawn (the bot starts without it), and
draws with the CJK font fontconfig picks (see `core.pdf_fonts`), so Chinese and Korean
labels show."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from core import pdf_fonts

if TYPE_CHECKING:
    from matplotlib.font_manager import FontProperties

# Telegram's own palette, and enough contrast on a white image.
COLOURS = ("#2481cc", "#31b545", "#e8a33d", "#d9534f")
LONGEST_LABEL = 24


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[int]


@lru_cache(maxsize=4)
def _font(language: str) -> FontProperties | None:
    from matplotlib.font_manager import FontProperties

    path = pdf_fonts.font_path(language)
    return FontProperties(fname=path) if path else None


def _short(label: str) -> str:
    return label if len(label) <= LONGEST_LABEL else label[: LONGEST_LABEL - 1] + "…"


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    language: str,
    *,
    horizontal: bool = True,
) -> bytes:
    """Grouped bars, one group per label, one bar per series; a PNG."""
    from matplotlib.figure import Figure

    font = _font(language)
    text = {"fontproperties": font} if font is not None else {}
    rows = max(len(labels), 1)
    height = max(3.0, 0.45 * rows * max(len(series), 1) + 1.5) if horizontal else 4.5
    figure = Figure(figsize=(8, height), dpi=110)
    axes = figure.subplots()
    width = 0.8 / max(len(series), 1)
    places = range(len(labels))
    for index, one in enumerate(series):
        shifted = [place + (index - (len(series) - 1) / 2) * width for place in places]
        colour = COLOURS[index % len(COLOURS)]
        if horizontal:
            axes.barh(shifted, one.values, height=width, label=one.name, color=colour)
        else:
            axes.bar(shifted, one.values, width=width, label=one.name, color=colour)
    shown = [_short(label) for label in labels]
    if horizontal:
        axes.set_yticks(list(places), shown, **text)
        axes.invert_yaxis()
        axes.xaxis.get_major_locator().set_params(integer=True)
    else:
        axes.set_xticks(list(places), shown, **text)
        axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(title, **text)
    if series:
        legend = axes.legend(prop=font) if font is not None else axes.legend()
        legend.set_frame_on(False)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
