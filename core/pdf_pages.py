"""The bank's A4 documents (a member's passbook statement, a branch's monthly report): one
page layout, paragraphs in fonts that can show their text (see `core.pdf_fonts`), and the
table of labelled figures each of them opens with.

Imported when a PDF is made, not before: reportlab takes a while to load, and most
processes never print.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

from core.pdf_fonts import DocumentFonts

MARGIN = 15 * mm


@dataclass(frozen=True)
class Typeset:
    """Setting one document's words in its fonts, `size` points unless told otherwise."""

    fonts: DocumentFonts
    size: float

    def para(
        self, text: str, size: float | None = None, *, bold: bool = False, align: int = 0
    ) -> Paragraph:
        text = self.fonts.shown(text)
        size = size or self.size
        style = ParagraphStyle(
            "cell",
            fontName=self.fonts.font(text, bold=bold),
            fontSize=size,
            leading=size * 1.35,
            alignment=align,
            wordWrap="CJK" if self.fonts.wraps_cjk(text) else None,
        )
        return Paragraph(escape(text), style)

    @property
    def cell_font(self) -> tuple:
        """A table's style command for its cells' font: a table sets it even around
        paragraphs, and unset, that is Helvetica."""
        return ("FONTNAME", (0, 0), (-1, -1), self.fonts.base)

    def facts(self, facts: list[tuple[str, str]], label_width: float) -> Table:
        """Label and figure, a pair a row, the figures bold."""
        return Table(
            [[self.para(label), self.para(value, bold=True)] for label, value in facts],
            colWidths=[label_width, 50 * mm],
            hAlign="LEFT",
            style=[self.cell_font],
        )

    def document(self, buffer: io.BytesIO, *, title: str, author: str) -> SimpleDocTemplate:
        """An A4 page with the bank's margins. Its pages start in the document's font: else
        every page starts in Helvetica, a font the PDF names but does not embed."""
        return SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=MARGIN,
            title=title,
            author=author,
            initialFontName=self.fonts.base,
        )
