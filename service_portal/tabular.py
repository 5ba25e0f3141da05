"""Reading uploaded tables (CSV or XLSX) into rows, and reporting bad rows.

CSV must be UTF-8 (a BOM is fine), comma- or semicolon-separated as Excel writes it in
many locales. XLSX is read by openpyxl in read-only mode, after checking the archive's
declared sizes so that a small file that unpacks to gigabytes is refused in milliseconds.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

from flask_babel import gettext as _

from .errors import Invalid

MAX_ROWS = 100_000
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024
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


def read_table(data: bytes | BinaryIO, filename: str = "", *,
               max_rows: int | None = MAX_ROWS) -> Table:
    """Parse CSV or XLSX, given as bytes or as a binary file open for reading (XLSX
    recognised by its zip signature or name). A CSV file is read as its rows are consumed,
    never whole. Uploads keep the default row limit; the command line passes None."""
    if isinstance(data, bytes | bytearray):
        head, source = bytes(data[:4]), io.BytesIO(data)
    else:
        head, source = data.read(4), data
        source.seek(0)
    if head == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_xlsx(source.read(), max_rows)  # size-checked before it is opened
    return _read_csv(source, max_rows)


def require_columns(table: Table, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise Invalid(_("Missing columns: %(columns)s", columns=", ".join(missing)),
                      code="missing_columns", details=missing)


def _read_csv(source: BinaryIO, max_rows: int | None) -> Table:
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
        count = 0
        try:
            for values in reader:
                if not "".join(values).strip():  # a blank line, spaces only
                    continue
                count += 1
                if max_rows is not None and count > max_rows:
                    raise _too_many_rows(max_rows)
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


def _read_xlsx(data: bytes, max_rows: int | None) -> Table:
    _check_xlsx_archive(data)
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a damaged file
        raise Invalid(_("The spreadsheet could not be read."), code="bad_xlsx") from None
    try:
        sheet = workbook.worksheets[0]
        rows_iter = sheet.iter_rows(values_only=True)
        header = next(rows_iter, None)
        if not header or not any(header):
            raise Invalid(_("The file is empty."), code="empty_file")
        columns = [str(c or "").strip().lower() for c in header]
        rows: list[tuple[int, dict[str, str]]] = []
        for number, values in enumerate(rows_iter, start=2):
            cells = ["" if v is None else _cell_text(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            rows.append((number, _row_dict(columns, cells)))
            if max_rows is not None and len(rows) > max_rows:
                raise _too_many_rows(max_rows)
    finally:
        workbook.close()
    return Table(columns, iter(rows))


def _check_xlsx_archive(data: bytes) -> None:
    """Refuse archives whose declared unpacked size or member count is too large."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise Invalid(_("The spreadsheet could not be read."), code="bad_xlsx") from None
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


def _too_many_rows(limit: int) -> Invalid:
    return Invalid(_("The file has more than %(max)s rows.", max=limit), code="too_many_rows")


# --- Exports --------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading
    apostrophe (OWASP's CSV injection advice). Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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
