"""Static files under names that carry a hash of their content, so a browser may keep them
for a year: `url_for('static', filename='css/portal.css')` gives
`/static/css/portal.<hash>.css`, and a new release changes the name of every file it changes.

A name with the current hash is answered with `Cache-Control: public, max-age=31536000,
immutable`; the plain name (a relative link inside a style sheet, an old bookmark) and a
name with a hash that is no longer current (a page cached before a release) get the file
with `no-cache`, which browsers revalidate by ETag. Compression is Flask-Compress's, like
every other response's."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import Flask, send_from_directory

YEAR = 365 * 24 * 3600
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)$")


def manifest(folder: Path) -> dict[str, str]:
    """Each file's path under `folder` (with `/`), mapped to its name with the hash."""
    names = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        names[name] = f"{name.removesuffix(path.suffix)}.{digest}{path.suffix}" \
            if path.suffix else name
    return names


def init_app(app: Flask, folder: Path) -> None:
    """Serve `folder` at `/static/` under hashed names (the app is made without Flask's own
    static route)."""
    hashed = manifest(folder)
    current = set(hashed.values())

    def static(filename: str):
        match = _HASHED.match(filename)
        real = f"{match['stem']}{match['suffix']}" if match else filename
        immutable = filename in current and filename != real
        response = send_from_directory(folder, real, max_age=YEAR if immutable else 0)
        # Read into memory (the files are small), so that the compression sees a body of
        # known length and may choose gzip, which it never uses for a stream.
        response.direct_passthrough = False
        body = response.get_data()
        response.close()  # the file
        response.set_data(body)
        if immutable:
            response.cache_control.public = True
            response.cache_control.immutable = True
        else:
            response.cache_control.no_cache = True
        return response

    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=static)

    @app.url_defaults
    def _hashed_name(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = hashed.get(values["filename"], values["filename"])
