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
    return _pybabel("extract", "-F", str(BABEL_CFG), "-k", "_l", "--no-location",
                    "--sort-output", "--project", "service-portal", "--omit-header",
                    "-o", str(target), str(PROJECT_ROOT / "service_portal"))


def update_catalogs() -> str:
    """Merge the template into each locale's catalog, creating missing ones."""
    for locale in SUPPORTED_LOCALES:
        po = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            _pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS_DIR), "-l", locale)
    return _pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS_DIR), "--no-fuzzy-matching",
                    "--ignore-obsolete", "--omit-header")


def compile_catalogs() -> str:
    """Build the .mo files (never committed) from the .po files."""
    if not any(TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po")):
        return "no catalogs"
    return _pybabel("compile", "-d", str(TRANSLATIONS_DIR), "--use-fuzzy")
