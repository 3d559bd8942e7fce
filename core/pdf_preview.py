"""A PDF's first page as a PNG picture, for a preview in a chat, by poppler's `pdftoppm`
(Debian's poppler-utils, which `./dev` installs; the tests read PDFs with its pdftotext)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def available() -> bool:
    return shutil.which("pdftoppm") is not None


def first_page_png(pdf: bytes, *, dpi: int = 72) -> bytes:
    """The first page at `dpi` (72: an A4 page is 595 × 842 pixels, enough for a phone)."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise RuntimeError("pdftoppm (poppler-utils) is not installed")
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.pdf", Path(folder) / "page"
        source.write_bytes(pdf)
        subprocess.run(
            [tool, "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", source, target],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return target.with_suffix(".png").read_bytes()
