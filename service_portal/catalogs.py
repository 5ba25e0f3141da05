"""The translation workflow (extract, update, compile) on top of Babel's own commands."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

from . import PROJECT_ROOT, TRANSLATIONS_DIR
from .config import SUPPORTED_LOCALES

POT = TRANSLATIONS_DIR / "messages.pot"
BABEL_CFG = PROJECT_ROOT / "babel.cfg"


def _pybabel(*args: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        CommandLineInterface().run(["pybabel", "-q", *args])
    return out.getvalue().strip() or "ok"


def extract_catalog(target: Path = POT) -> str:
    """Write the template catalog from Python code and Jinja templates."""
    # Babel skips folders starting with "_" unless told otherwise: templates/_macros.
    return _pybabel("extract", "-F", str(BABEL_CFG), "-k", "_l", "-k", "lazy_pgettext:1c,2",
                    "--ignore-dirs", ".* __pycache__", "--no-location",
                    "--sort-output", "--project", "service-portal",
                    "-o", str(target), str(PROJECT_ROOT / "service_portal"))


def update_catalogs() -> str:
    """Merge the template into each locale's catalog, creating missing ones."""
    for locale in SUPPORTED_LOCALES:
        po = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            _pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS_DIR), "-l", locale)
    result = _pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS_DIR),
                      "--no-fuzzy-matching", "--ignore-obsolete")
    fill_source_catalog()
    return result


def fill_source_catalog(locale: str = "en") -> None:
    """The source language's catalog says what the code says: msgstr = msgid."""
    from babel.messages.pofile import read_po, write_po

    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    for message in catalog:
        if message.id:
            message.string = message.id
            message.flags.discard("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100)


def compile_catalogs() -> str:
    """Build the .mo files (never committed) from the .po files."""
    if not any(TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po")):
        return "no catalogs"
    return _pybabel("compile", "-d", str(TRANSLATIONS_DIR), "--use-fuzzy")
