"""The monthly report PDF: every character of its text is in the embedded font it is set in
(a character missing from the cut font prints as a box, as "·" in the bold title did)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core import pdf_fonts, reports, stats
from core.pdf_pages import Typeset


@pytest.mark.parametrize("language", ["ko", "zh_Hans", "en"])
def test_every_character_of_the_report_is_in_its_font(
    language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("reportlab")
    if pdf_fonts.embedded_font(language, "가中") is None:
        pytest.skip("no embeddable CJK font on this system")
    from reportlab.pdfbase import pdfmetrics

    shown: list[tuple[str, str]] = []
    para = Typeset.para

    def spy(self: Typeset, text: str, *args: object, bold: bool = False, **kw: object):
        made = para(self, text, *args, bold=bold, **kw)  # type: ignore[arg-type]
        shown.append((self.fonts.font(text, bold=bold), self.fonts.shown(text)))
        return made

    monkeypatch.setattr(Typeset, "para", spy)
    month = date(2026, 12, 1)
    figures = stats.Figures(
        branch_id=1,
        period=stats.Period(stats.PeriodKind.CUSTOM, month, date(2026, 12, 4)),
        totals=stats.Counts(asked=3, covered=2, done=1, minutes=90),
        active_volunteers=2,
        active_residents=3,
        new_members=1,
    )
    report = reports.MonthReport("상하이 뤄산", month, figures, {}, [], "Asia/Shanghai")
    pdf = reports.render_report(
        report, language, lambda s: s, generated_at=datetime(2026, 12, 4, tzinfo=UTC)
    )
    assert pdf.startswith(b"%PDF")
    assert any("·" in text for _font, text in shown)
    for font, text in shown:
        glyphs = pdfmetrics.getFont(font).face.charToGlyph
        missing = {ch for ch in text if ord(ch) not in glyphs and not ch.isspace()}
        assert not missing, (font, text, missing)
