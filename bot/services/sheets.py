"""What every spreadsheet the bot makes shares: safe text cells and the finished layout.

Texts come from imports, chats and members' typing, so each cell is cleaned of the control
characters openpyxl refuses (one forged name must not cost a whole file) and a text a
spreadsheet would read as a formula ("=HYPERLINK(...)") stays a string. Every file has a title
row merged across its columns, a bold frozen header, a filter, and prints landscape, one page
wide, the header repeated on each page.
"""

from __future__ import annotations

import math
import unicodedata
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TITLE_ROW, HEADER_ROW, FIRST_DATA_ROW = 1, 2, 3
MIN_WIDTH, MAX_WIDTH = 6, 60
# Characters that make a spreadsheet read a text as a formula (OWASP's CSV-injection list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean_text(text: str) -> str:
    """Without the control characters the XML openpyxl writes cannot hold."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("", text)  # openpyxl is untyped
    return cleaned


def put_text(cell: Cell, text: str) -> None:
    """Store `text` as a string whatever its first character.

    openpyxl turns a string starting with "=" into a formula; forcing the type to "s" keeps it a
    string in the file, and quotePrefix is what Excel itself sets when someone types 'text, so
    the value shows without an apostrophe yet re-editing it in Excel keeps it text.
    """
    cell.value = text
    if text.startswith(FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True


def text_width(text: str) -> int:
    """Characters as seen: decomposed Vietnamese (NFD, as some keyboards send) would count each
    accent as one."""
    return len(unicodedata.normalize("NFC", text))


def set_width(ws: Worksheet, col: int, width: int) -> None:
    """A column as wide as its widest text, within bounds (+2: the cell's padding)."""
    ws.column_dimensions[get_column_letter(col)].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)


def finish(ws: Worksheet, title: str, ncols: int, nrows: int, *, freeze: str) -> None:
    """The title row across the columns (tall enough for a long title: a merged cell does not
    grow with its text), the frozen panes at `freeze`, the header's filter, print setup."""
    title = clean_text(title)
    last = get_column_letter(ncols)
    put_text(ws.cell(row=TITLE_ROW, column=1), title)
    ws.merge_cells(f"A{TITLE_ROW}:{last}{TITLE_ROW}")
    head = ws.cell(row=TITLE_ROW, column=1)
    head.font = Font(bold=True, size=14)
    head.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    total = sum(ws.column_dimensions[get_column_letter(c)].width for c in range(1, ncols + 1))
    lines = max(1, math.ceil(text_width(title) * 1.3 / total))
    ws.row_dimensions[TITLE_ROW].height = 20 * lines

    ws.freeze_panes = freeze
    last_row = max(HEADER_ROW, FIRST_DATA_ROW + nrows - 1)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{last_row}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def to_bytes(wb: Workbook) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
