"""Opening an uploaded XLSX with openpyxl (read-only) within a reading `Budget`.

openpyxl reads the workbook as it always does, with two additions: every part comes to it
through a stream that checks the budget's clock on each read (openpyxl parses as it
reads, so no part can run past the deadline by more than one read's work), and the
shared strings, which openpyxl loads whole before the first row, are first counted by a
streaming parser. A part that openpyxl reads whole rather than streaming (styles,
workbook, properties) may not unpack to more than `MAX_XLSX_PART_BYTES`.
"""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING
from xml.parsers import expat

from flask_babel import gettext as _
from openpyxl.reader.excel import ExcelReader
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

from .errors import Invalid
from .i18n import format_number
from .tabular import MAX_XLSX_PART_BYTES, Budget, over_limit

if TYPE_CHECKING:
    from openpyxl import Workbook

_SHARED_STRING = f"{SHEET_MAIN_NS}}}si"  # the element openpyxl makes a string of


def open_workbook(data: bytes, budget: Budget) -> Workbook:
    """The read-only workbook of `data` (an archive already size-checked)."""
    reader = _BudgetedReader(data, budget)
    reader.read()
    return reader.wb


class _BudgetedReader(ExcelReader):
    """openpyxl's reader over a `_BudgetedArchive`, counting shared strings first."""

    def __init__(self, data: bytes, budget: Budget) -> None:
        super().__init__(io.BytesIO(data), read_only=True, data_only=True)
        self.archive.close()
        self.archive = _BudgetedArchive(data, budget)
        self.budget = budget

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)  # where openpyxl looks for them
        if part is not None and self.budget.max_shared_strings is not None:
            _count_shared_strings(self.archive, part.PartName[1:], self.budget)
        super().read_strings()


def _count_shared_strings(archive: zipfile.ZipFile, name: str, budget: Budget) -> None:
    """Refuse more shared strings than the budget allows, counted by expat (the parser
    under ElementTree) as the part streams by: no element is built, nothing is kept."""
    limit = budget.max_shared_strings
    count = 0

    def start(tag: str, _attributes) -> None:
        nonlocal count
        if tag == _SHARED_STRING:
            count += 1
            if count > limit:
                raise over_limit("shared_strings", limit, _(
                    "The spreadsheet holds more than %(max)s different texts "
                    "(shared strings).", max=format_number(limit)))

    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    with archive.open(name) as source:
        while chunk := source.read(64 * 1024):  # each read checks the clock
            parser.Parse(chunk, False)


class _BudgetedArchive(zipfile.ZipFile):
    """The workbook's archive: each member opened for reading is a `_BudgetedStream`."""

    def __init__(self, data: bytes, budget: Budget) -> None:
        super().__init__(io.BytesIO(data))
        self.budget = budget

    def open(self, name, mode="r", pwd=None, *, force_zip64=False):
        stream = super().open(name, mode, pwd, force_zip64=force_zip64)
        if mode != "r":
            return stream
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        return _BudgetedStream(stream, info, self.budget)


class _BudgetedStream:
    """A member of the archive that checks the budget's clock on every read, and refuses
    to be read whole when it would unpack to more than `MAX_XLSX_PART_BYTES`."""

    def __init__(self, stream, info: zipfile.ZipInfo, budget: Budget) -> None:
        self._stream, self._info, self._budget = stream, info, budget

    def read(self, size: int | None = -1) -> bytes:
        self._budget.check_time()
        if (size is None or size < 0) and self._info.file_size > MAX_XLSX_PART_BYTES:
            mb = MAX_XLSX_PART_BYTES // (1024 * 1024)
            raise Invalid(_("The part %(part)s of the spreadsheet unpacks to more than "
                            "%(mb)s MB.", part=self._info.filename[:100], mb=mb),
                          code="xlsx_part_too_large", field="file",
                          details=[{"limit": "part_mb", "max": mb}])
        return self._stream.read(size)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _BudgetedStream:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
