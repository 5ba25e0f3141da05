"""Dashboard charts as server-side SVG, drawn by pygal: no script, readable without one.

Labels are translated and numbers formatted for the reader; the SVG carries no JavaScript
(pygal's tooltips script is left out), so the strict page CSP needs no exception."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import Any
from xml.etree import ElementTree

import pygal
from babel.dates import format_date
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pygal.style import Style

from .. import names
from ..i18n import format_number
from ..vocabulary import CASE_STATUSES, label

# pygal hooks the import system for its map plugins (unused here), and the hook warns on
# every later import of any module; take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

_STYLE = Style(background="white", plot_background="white", foreground="#1f2933",
               foreground_strong="#1f2933", foreground_subtle="#52606d",
               colors=("#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490"),
               font_family="system-ui, sans-serif")

def _named(name_of: Callable[[str], str]) -> Callable[[str], str]:
    """`name_of`, except for the statistics' "unknown" (a case without that field)."""
    return lambda code: _("Not known") if code == "unknown" else name_of(code)


def week_name(iso_week: str) -> str:
    """An ISO week (`2026-W49`) as the reader reads it: the date of its Monday."""
    try:
        monday = date.fromisocalendar(int(iso_week[:4]), int(iso_week[6:]), 1)
    except ValueError:
        return iso_week
    return _("week of %(day)s", day=format_date(monday, "medium", locale=get_locale()))


#: chart name -> (title, statistics key, how a key is named for the reader)
CHARTS: dict[str, tuple[Any, str, Callable[[str], str]]] = {
    "status": (_l("Cases by status"), "status",
               _named(lambda code: label(CASE_STATUSES, code))),
    "brand": (_l("Cases by brand"), "brand", _named(names.brand_name)),
    "model": (_l("Cases by model"), "model", _named(names.model_name)),
    "country": (_l("Cases by country"), "country", _named(names.country_name)),
    "service": (_l("Cases by service"), "service", _named(names.service_name)),
    "resolution": (_l("Median hours to resolve, by week"), "resolution_hours", week_name),
}


def render(name: str, stats: dict[str, Any]) -> bytes:
    """The SVG of chart `name` for the statistics of `queries.case_statistics`."""
    title, key, name_of = CHARTS[name]
    config = dict(style=_STYLE, width=640, height=360, js=[], disable_xml_declaration=False,
                  show_legend=False, value_formatter=format_number, print_values=True,
                  no_data_text=_("No cases yet"), title=str(title))
    if name == "resolution":
        chart = pygal.Line(**config, x_label_rotation=30)
        weeks = stats[key]
        chart.x_labels = [week_name(week) for week, _median, _count in weeks]
        chart.add(_("Median hours"), [round(median, 1) for _week, median, _count in weeks])
    else:
        chart = pygal.HorizontalBar(**config)
        pairs = stats[key][:15]
        chart.x_labels = [name_of(code) for code, _count in pairs]
        chart.add(_("Cases"), [count for _code, count in pairs])
    return _without_scripts(chart.render_tree())


def _without_scripts(tree) -> bytes:
    # pygal always embeds a small config <script>; a chart shown as an image needs none.
    for parent in tree.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return ElementTree.tostring(tree, encoding="utf-8", xml_declaration=True)
