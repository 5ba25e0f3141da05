"""Mutation run: break one rule of CONTRACT sections 5, 6 and 10 at a time and check a test fails.

Each mutation below is a rule-breaking patch: exact `old` text in one file replaced by
`new` (plus, rarely, further edits in `also`). The script copies the repository's working
tree (tracked and untracked files that git does not ignore, so tests not yet committed
count) to a temporary folder, never touching the tree it was started from, then, for
each mutation alone: applies it, runs its `tests` with
`pytest -x -q -p no:cacheprovider -m "not browser"`, restores the file, and records
whether a test failed (killed, naming the first failing test) or all passed (survived).
An `old` text that is not found exactly once is reported as stale: the code moved on and
the mutation must be rewritten. A table is printed at the end; the exit status is 0 only
when every mutation applied and was killed (1 otherwise, 2 when the unmutated tests fail).

Run it from anywhere (about 5 minutes on a 2-core machine; PostgreSQL is used when
PORTAL_TEST_DATABASE_URL is set, as for the test suite):

    python scripts/mutations.py                  # every mutation
    python scripts/mutations.py -k csrf -k csp   # those whose name contains a word
    python scripts/mutations.py --list           # names, rules and files only

Adding a mutation: append a `Mutation(...)` to MUTATIONS with a unique `name`, the
`rule` it breaks (CONTRACT section and a few words), the `path` (from the repository
root), an `old` text copied from the file (with enough context to occur exactly once),
the `new` text that breaks the rule the way a careless change would, and the test files
(or node ids) that should catch it: few and fast, as every mutation runs them. A
survivor means no test observes the rule: write the test (what a user or an attacker
would see), rerun with `-k <name>`, then keep the mutation so the rule stays guarded.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTEST = ("-x", "-q", "-p", "no:cacheprovider", "-m", "not browser")
TIMEOUT_S = 600  # a mutation that hangs its tests counts as killed (by the timeout)


@dataclass(frozen=True)
class Mutation:
    name: str
    rule: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    also: tuple[tuple[str, str, str], ...] = ()  # further (path, old, new) edits

    def edits(self) -> list[tuple[str, str, str]]:
        return [(self.path, self.old, self.new), *self.also]


DEALER_WRITE_TESTS = ("tests/test_csrf_walk.py", "tests/test_dealer_pages.py")
HEADER_TESTS = ("tests/test_app.py", "tests/test_contract_rules.py")

MUTATIONS: list[Mutation] = [
    # --- section 5: the dealer API, own organisation only ------------------------------
    Mutation(
        "dealer-sees-other-org-shop", "5: another organisation's shop answers 404",
        "service_portal/shops/queries.py",
        "Shop.id == shop_id, Shop.organization_id == organization_id)).first()",
        "Shop.id == shop_id)).first()",
        ("tests/test_tenant_isolation.py", "tests/test_dealer_api.py")),
    Mutation(
        "dealer-lists-every-shop", "5: own organisation's shops only",
        "service_portal/shops/dealer_api.py",
        "Shop.organization_id == g.api_user.organization_id).order_by(Shop.name)",
        "Shop.id > 0).order_by(Shop.name)",
        ("tests/test_tenant_isolation.py", "tests/test_dealer_api.py")),
    Mutation(
        "dealer-import-into-other-org", "5: an import writes own organisation's shops only",
        "service_portal/parts/dealer_api.py",
        "dry_run=dry_run, organization_id=shop.organization_id)",
        "dry_run=dry_run, organization_id=None)",
        ("tests/test_tenant_isolation.py", "tests/test_dealer_api.py")),
    Mutation(
        "dealer-api-any-role", "5: the dealer API takes a dealer's token",
        "service_portal/parts/dealer_api.py",
        '@bp.put("/shops/<id:shop_id>/stock")\n@token_required("dealer")',
        '@bp.put("/shops/<id:shop_id>/stock")\n@token_required()',
        ("tests/test_dealer_api.py", "tests/test_contract_rules.py")),
    Mutation(
        "stock-version-ignored", "5: a stale version answers 409",
        "service_portal/parts/services.py",
        "        if before.version != version:\n",
        "        if False:\n",
        ("tests/test_dealer_api.py", "tests/test_dealer_pages.py")),
    Mutation(
        "stock-below-zero", "5/3: qty >= 0, a delta below zero is refused",
        "service_portal/parts/services.py",
        "Stock.qty + delta >= 0,\n",
        "\n",
        ("tests/test_dealer_api.py",)),
    Mutation(
        "stock-put-not-atomic", "5: a write is all or nothing",
        "service_portal/parts/dealer_api.py",
        "    counts = put_stock(get_session(), shop_id=shop.id, items=body.items, mode=body.mode,\n"
        "                       actor=current_actor())\n",
        "    counts = {'created': 0, 'updated': 0, 'deleted': 0}\n"
        "    for item in body.items:\n"
        "        try:\n"
        "            one = put_stock(get_session(), shop_id=shop.id, items=[item],\n"
        "                            mode=body.mode, actor=current_actor())\n"
        "            get_session().commit()\n"
        "        except Exception:\n"
        "            get_session().rollback()\n"
        "            raise\n"
        "        counts = {k: counts[k] + one[k] for k in counts}\n",
        ("tests/test_dealer_api.py", "tests/test_contract_rules.py")),
    # --- section 6: the staff API ------------------------------------------------------
    Mutation(
        "staff-patch-takes-dealer-token", "6: staff API takes staff or admin tokens only",
        "service_portal/cases/staff_api.py",
        '@bp.patch("/cases/<reference>")\n@token_required("staff", "admin")',
        '@bp.patch("/cases/<reference>")\n@token_required("staff", "admin", "dealer")',
        ("tests/test_cases_api.py", "tests/test_contract_rules.py")),
    Mutation(
        "staff-case-view-takes-any-token", "6: staff API takes staff or admin tokens only",
        "service_portal/cases/api.py",
        '@token_required("staff", "admin")\ndef _staff_view',
        "@token_required()\ndef _staff_view",
        ("tests/test_cases_api.py", "tests/test_tenant_isolation.py",
         "tests/test_contract_rules.py")),
    Mutation(
        "case-version-ignored", "6: a stale version answers 409",
        "service_portal/cases/services.py",
        "    if patch.version != case.version:\n        raise Conflict()\n",
        "",
        ("tests/test_cases_api.py",)),
    Mutation(
        "case-any-transition", "6: another move answers 422 invalid_transition",
        "service_portal/cases/workflow.py",
        "    return target in TRANSITIONS.get(current, frozenset())",
        "    return True",
        ("tests/test_cases_api.py",)),
    # --- section 10: CSRF, cookies, tokens ---------------------------------------------
    Mutation(
        "csrf-exempt-dealer-pages", "10: CSRF tokens on every cookie-authenticated write",
        "service_portal/__init__.py",
        "    app.register_blueprint(dealer_views.bp)\n",
        "    app.register_blueprint(dealer_views.bp)\n    security.csrf.exempt(dealer_views.bp)\n",
        DEALER_WRITE_TESTS),
    # `Meta.csrf = False` alone changes nothing a browser sees (CSRFProtect guards every
    # view and the stock page renders `csrf_token()` itself), so it comes with the exempt.
    Mutation(
        "csrf-off-dealer-stock-form", "10: CSRF tokens on every cookie-authenticated write",
        "service_portal/__init__.py",
        "    app.register_blueprint(dealer_views.bp)\n",
        "    app.register_blueprint(dealer_views.bp)\n    security.csrf.exempt(dealer_views.bp)\n",
        DEALER_WRITE_TESTS,
        also=(("service_portal/parts/forms.py",
               '    """Inline edit of one stock line: the version read travels along '
               '(optimistic)."""\n',
               '    """Inline edit of one stock line: the version read travels along '
               '(optimistic)."""\n\n    class Meta:\n        csrf = False\n'),)),
    Mutation(
        "csrf-exempt-staff-pages", "10: CSRF tokens on every cookie-authenticated write",
        "service_portal/__init__.py",
        "    app.register_blueprint(staff_case_views.bp)\n",
        "    app.register_blueprint(staff_case_views.bp)\n"
        "    security.csrf.exempt(staff_case_views.bp)\n",
        ("tests/test_csrf_walk.py",)),
    Mutation(
        "api-accepts-session-cookie", "10: token-authenticated API writes accept no cookie",
        "service_portal/security.py",
        "            found = user_for_token(_session(), token) if token else None\n",
        "            found = user_for_token(_session(), token) if token else None\n"
        "            from flask_login import current_user\n"
        "            if found is None and current_user.is_authenticated:\n"
        "                g.api_user, g.api_token = current_user.user, None\n"
        "                if roles and g.api_user.role not in roles:\n"
        "                    raise Forbidden()\n"
        "                return view(*args, **kwargs)\n",
        ("tests/test_csrf_walk.py::test_api_writes_ignore_the_session_cookie",
         "tests/test_contract_rules.py")),
    Mutation(
        "json-write-any-content-type", "10: JSON writes require application/json (415)",
        "service_portal/jsonbody.py",
        '    if request.mimetype != "application/json":\n        raise UnsupportedMediaType()\n',
        "",
        ("tests/test_dealer_api.py", "tests/test_cases_api.py")),
    Mutation(
        "json-depth-unlimited", "10: request size limits (JSON depth)",
        "service_portal/jsonbody.py",
        "    if _depth(data) > MAX_DEPTH:\n",
        "    if False:\n",
        ("tests/test_dealer_api.py", "tests/test_cases_api.py", "tests/test_contract_rules.py")),
    Mutation(
        "session-cookie-not-httponly", "10: cookies HttpOnly",
        "service_portal/__init__.py",
        'cookie.get("SESSION_COOKIE_HTTPONLY", True)',
        'cookie.get("SESSION_COOKIE_HTTPONLY", False)',
        ("tests/test_accounts.py", "tests/test_contract_rules.py")),
    Mutation(
        "session-cookie-no-samesite", "10: cookies SameSite=Lax",
        "service_portal/__init__.py",
        'cookie.get("SESSION_COOKIE_SAMESITE", "Lax")',
        'cookie.get("SESSION_COOKIE_SAMESITE", None)',
        ("tests/test_accounts.py", "tests/test_contract_rules.py")),
    Mutation(
        "session-cookie-not-secure", "10: cookies Secure outside the local demo",
        "service_portal/__init__.py",
        '                                                     not app.config["LOCAL_DEMO"])',
        "                                                     False)",
        ("tests/test_accounts.py", "tests/test_contract_rules.py")),
    Mutation(
        "session-kept-at-logout", "10: session ended on the server at logout",
        "service_portal/users/auth.py",
        "    if session_id:\n        with session_scope(get_engine()) as db:",
        "    if False:\n        with session_scope(get_engine()) as db:",
        ("tests/test_accounts.py",)),
    Mutation(
        "staff-idle-timeout-ignored", "10: staff sessions expire after 30 idle minutes",
        "service_portal/users/auth.py",
        '    key = "STAFF_SESSION_IDLE_MINUTES" if role in ("staff", "admin") '
        'else "SESSION_IDLE_MINUTES"',
        '    key = "SESSION_IDLE_MINUTES"',
        ("tests/test_accounts.py",)),
    Mutation(
        "passwords-argon2i", "10: passwords hashed with argon2id",
        "service_portal/security.py",
        "                                     parallelism=parallelism)",
        "                                     parallelism=parallelism,\n"
        "                                     type=__import__('argon2').Type.I)",
        ("tests/test_accounts.py", "tests/test_contract_rules.py")),
    Mutation(
        "token-logged", "10: tokens never logged",
        "service_portal/security.py",
        "            if found is None:\n                raise Unauthorized(",
        "            if found is None:\n"
        "                __import__('logging').getLogger(__name__).warning(\n"
        "                    'refused token %s', token)\n"
        "                raise Unauthorized(",
        ("tests/test_accounts.py", "tests/test_contract_rules.py")),
    Mutation(
        "token-in-url", "10: tokens never put in URLs",
        "service_portal/security.py",
        '    header = request.headers.get("Authorization", "")\n',
        '    header = request.headers.get("Authorization", "")\n'
        '    if request.args.get("access_token"):\n'
        '        return request.args["access_token"]\n',
        ("tests/test_dealer_api.py", "tests/test_contract_rules.py")),
    Mutation(
        "token-failures-unlimited", "10: rate limit on token use",
        "service_portal/security.py",
        "        return token_failures(wrapper)\n",
        "        return wrapper\n",
        ("tests/test_limits.py", "tests/test_accounts.py")),
    Mutation(
        "login-unlimited", "10: rate limit on login",
        "service_portal/users/views.py",
        '@limiter.limit(login_limit, methods=["POST"], deduct_when=_failed)\n',
        "",
        ("tests/test_limits.py", "tests/test_accounts.py")),
    Mutation(
        "search-api-unlimited", "10: rate limit on the public search",
        "service_portal/shops/api.py",
        "limiter.limit(_search_limit)(search_bp)\n",
        "",
        ("tests/test_limits.py",)),
    Mutation(
        "case-creation-unlimited", "10: rate limit on case creation",
        "service_portal/cases/api.py",
        '@limiter.shared_limit(case_limit, scope="case-create")\n',
        "",
        ("tests/test_limits.py",)),
    Mutation(
        "upload-size-unlimited", "10: MAX_UPLOAD_MB (413)",
        "service_portal/__init__.py",
        'app.config["MAX_UPLOAD_MB"] * 1024 * 1024\n',
        'app.config["MAX_UPLOAD_MB"] * 1024 * 1024 * 1024\n',
        ("tests/test_limits.py", "tests/test_app.py")),
    # --- section 10: headers -----------------------------------------------------------
    Mutation(
        "csp-object-src-dropped", "10: CSP object-src 'none'",
        "service_portal/security.py",
        "\"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'\"",
        "\"base-uri 'none'; frame-ancestors 'none'; form-action 'self'\"",
        HEADER_TESTS),
    Mutation(
        "csp-unsafe-inline", "10: CSP without 'unsafe-inline' scripts",
        "service_portal/security.py",
        "script-src 'self' 'nonce-{nonce}'; ",
        "script-src 'self' 'unsafe-inline' 'nonce-{nonce}'; ",
        HEADER_TESTS),
    Mutation(
        "nosniff-dropped", "10: X-Content-Type-Options: nosniff",
        "service_portal/security.py",
        '        response.headers["X-Content-Type-Options"] = "nosniff"\n',
        "",
        HEADER_TESTS),
    Mutation(
        "referrer-policy-dropped", "10: Referrer-Policy strict-origin-when-cross-origin",
        "service_portal/security.py",
        '        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"\n',
        "",
        HEADER_TESTS),
    Mutation(
        "hsts-dropped", "10: Strict-Transport-Security over HTTPS",
        "service_portal/security.py",
        "        if request.is_secure:\n",
        "        if False:\n",
        HEADER_TESTS),
    Mutation(
        "no-store-dropped", "10: Cache-Control: no-store for signed-in pages",
        "service_portal/security.py",
        '            response.headers["Cache-Control"] = "no-store"\n',
        '            response.headers["Cache-Control"] = "private"\n',
        ("tests/test_dealer_pages.py", "tests/test_cases_api.py")),
    Mutation(
        "no-store-only-for-flagged", "10: Cache-Control: no-store for signed-in pages",
        "service_portal/security.py",
        '        if _signed_in() or g.get("api_user") is not None or g.get("personal_data"):\n',
        '        if g.get("personal_data"):\n',
        ("tests/test_dealer_pages.py", "tests/test_dealer_api.py",
         "tests/test_contract_rules.py")),
    # --- section 10: escaping and outputs ----------------------------------------------
    Mutation(
        "case-description-unescaped", "10: user text escaped everywhere",
        "service_portal/templates/staff/case.html",
        '<p class="pre">{{ case.description }}</p>',
        '<p class="pre">{{ case.description|safe }}</p>',
        ("tests/test_case_pages.py", "tests/test_safe_outputs.py",
         "tests/test_contract_rules.py")),
    Mutation(
        "shop-name-unescaped", "10: user text escaped everywhere",
        "service_portal/templates/shops/shop.html",
        "<h1>{{ shop.name }}</h1>",
        "<h1>{{ shop.name|safe }}</h1>",
        ("tests/test_owner_pages.py", "tests/test_safe_outputs.py",
         "tests/test_contract_rules.py")),
    Mutation(
        "links-any-scheme", "10: links from data are http(s) only",
        "service_portal/shops/views.py",
        '    return url if scheme in ("http", "https") else None',
        "    return url",
        ("tests/test_owner_pages.py", "tests/test_dealer_pages.py",
         "tests/test_contract_rules.py")),
    Mutation(
        "csv-formulas-kept", "10: exports escape user text (CSV formulas)",
        "service_portal/tabular.py",
        "        return _FORMULA_AT.sub(\"'\", value)\n",
        "        return value\n",
        ("tests/test_safe_outputs.py",)),
    Mutation(
        "next-to-another-host", "10: redirects stay on this site",
        "service_portal/users/auth.py",
        "    if parts.scheme or parts.netloc or not target.startswith(\"/\") "
        "or target.startswith(\"//\") \\\n            or \"\\\\\" in target:\n",
        "    if \"\\\\\" in target:\n",
        ("tests/test_safe_outputs.py", "tests/test_accounts.py",
         "tests/test_contract_rules.py")),
    Mutation(
        "bad-json-is-500", "9/10: no 500 for any input",
        "service_portal/jsonbody.py",
        "    except (ValueError, UnicodeDecodeError, RecursionError):\n",
        "    except (UnicodeDecodeError, RecursionError):\n",
        ("tests/test_dealer_api.py", "tests/test_cases_api.py")),
]


# --- running ----------------------------------------------------------------------------

def copy_tree(source: Path) -> Path:
    """The working tree of `source` (tracked and untracked, not ignored) in a new folder."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=source, check=True,
                            capture_output=True).stdout.decode().split("\0")
    target = Path(tempfile.mkdtemp(prefix="portal-mutations-"))
    for name in filter(None, listed):
        src = source / name
        if not src.is_file():  # deleted in the working tree
            continue
        dst = target / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return target


def pytest_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The copy, not the editable install, is what the tests import.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def check_imports_copy(tree: Path) -> None:
    out = subprocess.run([sys.executable, "-c",
                          "import service_portal; print(service_portal.__file__)"],
                         cwd=tree, env=pytest_env(tree), capture_output=True, text=True)
    where = Path(out.stdout.strip() or "?").resolve()
    if tree.resolve() not in where.parents:
        sys.exit(f"the copy's tests would import {where}, not the copy at {tree}")


def run_tests(tree: Path, tests: tuple[str, ...]) -> tuple[bool, str, float]:
    """Whether the tests pass, the first failing test (or the tail of the output) and
    the seconds taken."""
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", *PYTEST, *tests], cwd=tree,
                              env=pytest_env(tree), capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, f"timeout after {TIMEOUT_S} s", time.monotonic() - started
    seconds = time.monotonic() - started
    if done.returncode == 0:
        return True, "", seconds
    output = done.stdout + done.stderr
    failed = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    if failed:
        return False, failed.group(1), seconds
    tail = " | ".join(output.strip().splitlines()[-3:])
    return False, f"pytest exit {done.returncode}: {tail[:200]}", seconds


def stale_edits(tree: Path, mutation: Mutation) -> str:
    """Why a mutation no longer applies, or ''."""
    for path, old, _new in mutation.edits():
        file = tree / path
        if not file.is_file():
            return f"{path} is gone"
        found = file.read_text(encoding="utf-8").count(old)
        if found != 1:
            return f"old text found {found} times in {path}"
    return ""


def apply(tree: Path, mutation: Mutation) -> dict[Path, tuple[bytes, float]]:
    """Apply every edit; returns what restores the files (content and mtime)."""
    saved: dict[Path, tuple[bytes, float]] = {}
    for path, old, new in mutation.edits():
        file = tree / path
        if file not in saved:
            saved[file] = (file.read_bytes(), file.stat().st_mtime)
        file.write_text(file.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    return saved


def restore(saved: dict[Path, tuple[bytes, float]]) -> None:
    for file, (content, mtime) in saved.items():
        file.write_bytes(content)
        os.utime(file, (mtime, mtime))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="only", action="append", default=[],
                        help="run the mutations whose name contains this (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--keep", action="store_true", help="keep the copied tree")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not first run the chosen tests unmutated")
    args = parser.parse_args(argv)
    names = [m.name for m in MUTATIONS]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        sys.exit(f"mutation names must be unique: {sorted(duplicates)}")
    chosen = [m for m in MUTATIONS if not args.only or any(w in m.name for w in args.only)]
    if args.list:
        for m in chosen:
            print(f"{m.name:34} {m.rule:56} {m.path}")
        return 0
    started = time.monotonic()
    tree = copy_tree(REPO)
    print(f"working copy: {tree}", flush=True)
    try:
        check_imports_copy(tree)
        if not args.skip_baseline:
            tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests
                                        if (tree / t.split("::")[0]).exists()))
            ok, why, seconds = run_tests(tree, tests)
            print(f"baseline ({len(tests)} test files, unmutated): "
                  f"{'pass' if ok else 'FAIL ' + why} in {seconds:.0f} s", flush=True)
            if not ok:
                return 2
        results = []
        for m in chosen:
            stale = stale_edits(tree, m)
            tests = tuple(t for t in m.tests if (tree / t.split("::")[0]).exists())
            if stale or not tests:
                results.append((m, "STALE", stale or "none of its test files exists", 0.0))
            else:
                saved = apply(tree, m)
                try:
                    passed, why, seconds = run_tests(tree, tests)
                finally:
                    restore(saved)
                results.append((m, "SURVIVED" if passed else "killed", why, seconds))
            _m, outcome, why, seconds = results[-1]
            print(f"  {outcome:8} {m.name} ({seconds:.0f} s) {why}", flush=True)
    finally:
        if args.keep:
            print(f"kept {tree}")
        else:
            shutil.rmtree(tree, ignore_errors=True)
    width = max(len(m.name) for m, *_ in results)
    print(f"\n{'mutation':{width}}  {'rule':56}  {'result':8}  by")
    for m, outcome, why, _seconds in results:
        print(f"{m.name:{width}}  {m.rule[:56]:56}  {outcome:8}  {why}")
    bad = [m.name for m, outcome, *_ in results if outcome != "killed"]
    print(f"\n{len(results) - len(bad)} of {len(results)} killed; "
          f"{time.monotonic() - started:.0f} s in all")
    if bad:
        print("not killed: " + ", ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
