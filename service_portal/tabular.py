"""Reading uploaded tables (CSV or XLSX) into rows, and reporting bad rows.

CSV must be UTF-8 (a BOM is fine), comma- or semicolon-separated as Excel writes it in
many locales. XLSX is read by openpyxl in read-only mode, after checking the archive's
declared sizes so that a small file that unpacks to gigabytes is refused in milliseconds.
Uploads are read within a `Budget` (rows, blank ones included; cells; shared strings;
wall time), counted as the file is read: a file that would cost more is refused with a
422 naming the limit it passed, before it can tie up a web worker.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

from flask import Response, send_file
from flask_babel import gettext as _

from .errors import Invalid
from .i18n import format_number

#: Rows after the header, blank ones included (an upload; the command line has none).
MAX_ROWS = 100_000
#: Cells of an upload, blank ones included: a row counts as wide as its last cell or as
#: the header, whichever is wider (each costs that much to read).
MAX_CELLS = 2_000_000
#: Shared strings (the distinct texts of an XLSX): openpyxl loads them all before the
#: first row, and 122 KB of XLSX can hold millions.
MAX_SHARED_STRINGS = 300_000
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024
#: A part openpyxl reads whole rather than streaming (styles, workbook, properties).
MAX_XLSX_PART_BYTES = 5 * 1024 * 1024
MAX_XLSX_MEMBERS = 200
MAX_CELL_CHARS = 2000


@dataclass(frozen=True)
class RowError:
    """One problem in one row: `row` counts lines as a spreadsheet shows them (header = 1)."""

    row: int
    column: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RowChecker:
    """Checks the cells of one row, collecting every error instead of stopping at one."""

    def __init__(self, number: int, row: dict[str, str]) -> None:
        self.number, self.row = number, row
        self.errors: list[RowError] = []

    def __call__(self, column: str, parse, *, required: bool = False):
        """The parsed cell, or None when empty (an error if `required`) or invalid."""
        raw = (self.row.get(column) or "").strip()
        if not raw:
            if required:
                self.add(column, _("This value is required."))
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            self.add(column, str(exc))
            return None

    def add(self, column: str | None, message: str) -> None:
        self.errors.append(RowError(self.number, column, message))


class ImportFailed(Invalid):
    """A file with bad rows: nothing of it was stored."""

    code = "invalid_rows"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(
            _("%(count)s rows have errors; nothing was imported.", count=len(errors))
            if len(errors) != 1 else _("One row has an error; nothing was imported."),
            details=[e.to_dict() for e in errors],
        )
        self.errors = errors


@dataclass
class Table:
    """A header and its rows; `rows` yields (row number, values by column) once, lazily,
    so a large file streams through an import instead of sitting in memory."""

    columns: list[str]
    rows: Iterator[tuple[int, dict[str, str]]]


class Budget:
    """What reading one file may cost: rows after the header and cells (blank ones
    included, since they cost as much to read), shared strings, and seconds of wall time
    from the start of the reading until its last row was consumed (None: no limit).

    Each is counted as the file is read; the first one passed ends the reading with a
    422 naming it, so nothing of the file is stored."""

    def __init__(self, *, rows: int | None, cells: int | None, shared_strings: int | None,
                 seconds: float | None) -> None:
        self.max_rows, self.max_cells = rows, cells
        self.max_shared_strings, self.seconds = shared_strings, seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.rows = self.cells = 0

    def add_row(self, cells: int) -> None:
        """Count one row of `cells` cells (0 for a blank row)."""
        self.rows += 1
        self.cells += cells
        if self.max_rows is not None and self.rows > self.max_rows:
            raise over_limit("rows", self.max_rows, _(
                "The file has more than %(max)s rows (blank rows count too).",
                max=format_number(self.max_rows)))
        if self.max_cells is not None and self.cells > self.max_cells:
            raise over_limit("cells", self.max_cells, _(
                "The file has more than %(max)s cells (empty cells count too).",
                max=format_number(self.max_cells)))
        self.check_time()

    def limits_anything(self) -> bool:
        return any(limit is not None for limit in (self.max_rows, self.max_cells,
                                                   self.max_shared_strings, self.seconds))

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise over_limit("seconds", self.seconds, _(
                "Reading the file took longer than %(max)s seconds. Split it into smaller "
                "files and try again.", max=format_number(self.seconds)))


def over_limit(limit: str, value: float, message: str) -> Invalid:
    """The 422 of a file that passed one limit of its `Budget` (`limit` names it)."""
    return Invalid(message, code=f"too_many_{limit}" if limit != "seconds" else "too_slow",
                   field="file", details=[{"limit": limit, "max": value}])


def read_table(data: bytes | BinaryIO, filename: str = "", *,
               max_rows: int | None = MAX_ROWS, seconds: float | None = None) -> Table:
    """Parse CSV or XLSX, given as bytes or as a binary file open for reading (XLSX
    recognised by its zip signature or name). A CSV file is read as its rows are consumed,
    never whole. Uploads keep the default limits (rows, cells, shared strings) and pass
    their wall-time budget in `seconds`; the command line passes `max_rows=None`, which
    lifts all three (it keeps the archive checks)."""
    limited = max_rows is not None
    budget = Budget(rows=max_rows, cells=MAX_CELLS if limited else None,
                    shared_strings=MAX_SHARED_STRINGS if limited else None, seconds=seconds)
    if isinstance(data, bytes | bytearray):
        head, source = bytes(data[:4]), io.BytesIO(data)
    else:
        head, source = data.read(4), data
        source.seek(0)
    if head == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_xlsx(source.read(), budget)  # size-checked before it is opened
    return _read_csv(source, budget)


def require_columns(table: Table, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise Invalid(_("Missing columns: %(columns)s", columns=", ".join(missing)),
                      code="missing_columns", details=missing)


def _read_csv(source: BinaryIO, budget: Budget) -> Table:
    """Rows decode as they are read: a large file is never held whole, nor twice."""
    first_line = source.readline()
    source.seek(0)
    try:
        first_line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8() from None
    delimiter = ";" if first_line.count(b";") > first_line.count(b",") else ","
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader, None)
    except UnicodeDecodeError:  # the decoder reads ahead of the header
        raise _not_utf8() from None
    except csv.Error as exc:
        raise _bad_csv(reader, exc) from None
    if not header:
        raise Invalid(_("The file is empty."), code="empty_file")
    columns = [c.strip().lower() for c in header]
    width, named = len(columns), all(columns)

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        counted = budget.limits_anything()  # the command line's millions skip the count
        try:
            for values in reader:
                if counted:
                    budget.add_row(max(len(values), width))
                if not "".join(values).strip():  # a blank line, spaces only
                    continue
                # The common row (as wide as the header, short cells, every column
                # named) needs none of _row_dict's per-cell work: same dict, built in C.
                if named and len(values) == width \
                        and max(map(len, values)) <= MAX_CELL_CHARS:
                    yield reader.line_num, dict(zip(columns, values, strict=True))
                else:
                    yield reader.line_num, _row_dict(columns, values)
        except UnicodeDecodeError:
            raise _not_utf8() from None
        except csv.Error as exc:
            raise _bad_csv(reader, exc) from None
        finally:
            text.detach()  # the caller's file stays the caller's to close

    return Table(columns, rows())


def _not_utf8() -> Invalid:
    return Invalid(_("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."),
                   code="bad_encoding")


def _bad_csv(reader, exc: csv.Error) -> Invalid:
    return Invalid(_("The CSV file is malformed near line %(line)s.", line=reader.line_num),
                   code="bad_csv", details=[str(exc)])


def _read_xlsx(data: bytes, budget: Budget) -> Table:
    _check_xlsx_archive(data)
    from .xlsx import open_workbook

    try:
        workbook = open_workbook(data, budget)
    except Invalid:
        raise
    except Exception:  # openpyxl raises many kinds on a damaged file
        raise _bad_xlsx() from None
    try:
        sheet = workbook.worksheets[0]
        # The sheet's declared <dimension> may be wrong: rows and columns beyond it count.
        sheet.reset_dimensions()
        rows_iter = sheet.iter_rows(values_only=True)
        header = next(rows_iter, None)
        if not header or not any(header):
            raise Invalid(_("The file is empty."), code="empty_file")
        columns = [str(c or "").strip().lower() for c in header]
        rows: list[tuple[int, dict[str, str]]] = []
        for number, values in enumerate(rows_iter, start=2):
            budget.add_row(max(len(values), len(columns)))  # blank rows cost as much
            cells = ["" if v is None else _cell_text(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            rows.append((number, _row_dict(columns, cells)))
    except Invalid:
        raise
    except Exception:  # a damaged sheet shows only as its rows are read
        raise _bad_xlsx() from None
    finally:
        workbook.close()
    return Table(columns, iter(rows))


def _bad_xlsx() -> Invalid:
    return Invalid(_("The spreadsheet could not be read."), code="bad_xlsx")


def _check_xlsx_archive(data: bytes) -> None:
    """Refuse archives whose declared unpacked size or member count is too large."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise _bad_xlsx() from None
    unpacked = sum(m.file_size for m in members)
    if len(members) > MAX_XLSX_MEMBERS or unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise Invalid(
            _("The spreadsheet unpacks to more than %(mb)s MB or holds too many parts.",
              mb=MAX_XLSX_UNPACKED_BYTES // (1024 * 1024)),
            code="xlsx_too_large")


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _row_dict(columns: list[str], values: list[str]) -> dict[str, str]:
    return {c: (values[i][:MAX_CELL_CHARS] if i < len(values) else "")
            for i, c in enumerate(columns) if c}


# --- Exports --------------------------------------------------------------------------

#: Where a spreadsheet may start a cell: the start of the text, and after any character
#: Excel may split a CSV line on (`,`; `;` in German, French, Spanish, Italian or Dutch
#: Excel; tab; a line break). A formula starts with `=`, `+`, `-` or `@` (OWASP's list,
#: which also names a leading tab or CR), possibly after spaces or a quote.
_FORMULA_AT = re.compile(r"(?:^|(?<=[,;\t\r\n]))(?=[ \"]*[=+\-@\t\r\n])")


def neutralise(value: Any) -> Any:
    """A cell a spreadsheet will not run, however it splits the line: wherever a cell may
    start, text that looks like a formula gets an apostrophe in front (OWASP's CSV
    injection advice), so `x;=HYPERLINK(...)` becomes `x;'=HYPERLINK(...)`. Numbers stay
    numbers."""
    if isinstance(value, str):
        return _FORMULA_AT.sub("'", value)
    return value


def download(body: bytes, filename: str, mimetype: str) -> Response:
    """An attachment named `filename` in any script: werkzeug writes an ASCII `filename`
    and, for other names, `filename*=UTF-8''...` (RFC 6266 and 5987). Characters no file
    name holds (control characters, slashes) become `_`."""
    name = re.sub(r"[\x00-\x1f\x7f-\x9f/\\]", "_", filename)
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                     download_name=name)


def to_csv(columns: list[str], rows: list[list[Any]]) -> bytes:
    """UTF-8 CSV with a BOM (so Excel reads the accents), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(columns: list[str], rows: list[list[Any]], title: str = "stock") -> bytes:
    """A one-sheet workbook (openpyxl write-only), every text cell neutralised."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(columns)
    for row in rows:
        sheet.append([neutralise(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
