"""An embeddable font for a PDF in Chinese, Korean or English, found on the system.

Reportlab embeds TrueType outlines only, and the CJK fonts systems ship (Noto Sans CJK, from
fonts-noto-cjk) have PostScript (CFF) outlines. So the font fontconfig picks for the
language is cut down to the characters of the one document and its outlines turned into
TrueType ones (fontTools), which reportlab then embeds. Without fontconfig, a CJK font or
fontTools, `embedded_font` returns None and the caller uses reportlab's built-in CJK fonts,
which PDF readers supply but which lack some characters.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from core.logs import log_event

if TYPE_CHECKING:
    from fontTools.ttLib import TTFont

log = logging.getLogger("timebank.pdf")

# fontconfig's language tags: one Pan-CJK face covers Latin, Hangul and Han alike, so a
# Chinese name in a Korean statement still shows; the face only sets the preferred forms.
_FC_LANGUAGE = {"zh_Hans": "zh-cn", "ko": "ko", "en": "zh-cn"}
_PROBE = "가中"


@lru_cache(maxsize=8)
def _font_file(language: str, bold: bool) -> tuple[str, int] | None:
    """The file and face index fontconfig chooses for the language's text, if it has CJK."""
    if shutil.which("fc-match") is None:
        return None
    pattern = f"sans-serif:lang={_FC_LANGUAGE.get(language, 'zh-cn')}" + (":bold" if bold else "")
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}\n%{index}", pattern],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        path, index = found.stdout.split("\n")[:2]
        from fontTools.ttLib import TTFont

        with TTFont(path, fontNumber=int(index or 0), lazy=True) as font:
            cmap = font.getBestCmap()
    except Exception as error:  # no answer, or a font fontTools cannot read
        log_event(log, "pdf_font_unusable", logging.WARNING, error=repr(error))
        return None
    if not all(ord(char) in cmap for char in _PROBE):
        return None
    return path, int(index or 0)


def _to_truetype(font: TTFont) -> None:
    """Replace the font's CFF outlines by quadratic TrueType ones, in place."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyphs.items():
        width, _lsb = hmtx.metrics[name]
        hmtx.metrics[name] = (width, getattr(glyph, "xMin", 0))
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for field in (
        "maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
        "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
        "maxComponentElements", "maxComponentDepth",
    ):  # fmt: skip
        setattr(maxp, field, 1 if field == "maxZones" else 0)
    post = font["post"]
    post.formatType = 3.0
    font["head"].indexToLocFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def _subset(path: str, index: int, text: str, tag: str) -> bytes:
    """The face cut down to `text`, with TrueType outlines. `tag` goes into its PostScript
    name: reportlab keeps one face per name, so each document's cut needs its own."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = []
    # Reportlab lays out glyph by glyph: shaping and vertical tables would only cost time.
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "vhea", "vmtx", "VORG"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    with TTFont(path, fontNumber=index, lazy=True) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=text)
        subsetter.subset(font)
        if "CFF " in font:
            _to_truetype(font)
        names = font["name"]
        postscript = names.getDebugName(6) or "CJK"
        names.removeNames(nameID=6)
        names.setName(f"{postscript}-{tag}", 6, 3, 1, 0x409)
        out = io.BytesIO()
        font.save(out)
    return out.getvalue()


def font_path(language: str) -> str | None:
    """The system font file fontconfig chooses for the language's text, if it has CJK (a
    chart drawn with it shows Chinese and Korean labels)."""
    found = _font_file(language, False)
    return found[0] if found else None


def embedded_font(language: str, text: str, *, bold: bool = False) -> str | None:
    """The name of a registered reportlab font that has every character of `text` and is
    embedded in the PDF, or None when the system has no usable font."""
    found = _font_file(language, bold)
    if found is None:
        return None
    characters = "".join(sorted(set(text) | set(" 0123456789")))
    digest = hashlib.sha1(f"{found}{characters}".encode()).hexdigest()[:12]
    name = f"Passbook-{digest}"
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if name in pdfmetrics.getRegisteredFontNames():
        return name
    try:
        data = _subset(*found, characters, digest)
        pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
    except Exception as error:
        log_event(log, "pdf_font_not_embedded", logging.WARNING, path=found[0], error=repr(error))
        return None
    return name


CHINESE_FONT = "STSong-Light"
KOREAN_FONT = "HYGothic-Medium"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_HAN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


@lru_cache(maxsize=1)
def _register_builtin_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    for name in (CHINESE_FONT, KOREAN_FONT):
        pdfmetrics.registerFont(UnicodeCIDFont(name))


def builtin_font_for(text: str) -> str:
    """Without an embeddable system font: the built-in font that has the text's script."""
    if _HANGUL.search(text):
        return KOREAN_FONT
    if _HAN.search(text):
        # Even in a Korean document: the Korean font lacks simplified Chinese characters.
        return CHINESE_FONT
    return LATIN_FONT


@dataclass(frozen=True)
class DocumentFonts:
    """The fonts of one PDF: subsets of a system CJK font, embedded, when there is one;
    else reportlab's built-in fonts, chosen per text by its script."""

    regular: str | None
    bold: str | None

    @property
    def base(self) -> str:
        """The font a page or a table cell starts in (unset, reportlab says Helvetica)."""
        return self.regular or LATIN_FONT

    def font(self, text: str, *, bold: bool = False) -> str:
        if self.regular is not None:
            return (self.bold or self.regular) if bold else self.regular
        chosen = builtin_font_for(text)
        return LATIN_BOLD if bold and chosen == LATIN_FONT else chosen

    def shown(self, text: str) -> str:
        """The text as the fonts can show it: the built-in ones lack the true minus sign,
        and the CJK ones the middle dot."""
        if self.regular is not None:
            return text
        return text.replace("−", "-").replace("·", "/")

    def wraps_cjk(self, text: str) -> bool:
        """Whether lines of this text may break between any two characters."""
        return self.font(text) != LATIN_FONT


def document_fonts(language: str, texts: Iterable[str]) -> DocumentFonts:
    """The fonts for a document in `language` holding every one of `texts`."""
    every_text = "".join(texts)
    regular = embedded_font(language, every_text)
    bold = embedded_font(language, every_text, bold=True) or regular
    if regular is None:
        _register_builtin_fonts()
    return DocumentFonts(regular, bold)
