"""Finding a scan's own identifying values in free text and file names, in their usual forms.

A name is looked for as written and in the ways people write it in file names: family and
given name in either order, with or without separators ("Li^Wei", "LiWei", "Wei Li",
"li_wei"), initials before or after the surname ("JDoe", "DoeJ", "J.Doe"), and in any
script (DICOM's ideographic and phonetic forms included). IDs, accession numbers and
institutions are matched with or without their spaces and punctuation, birth dates in
year-month-day, day-month-year and month-day-year order. Short name parts ("Li") count
as whole words only, so "clinic" does not match; long ones match anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pneumonet_core.imaging.scan import IDENTIFYING_KEYS, NAME_KEYS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: Words of a file name, camel case split: "JaneDoe_IM1" -> Jane, Doe, IM, 1.
_SUBWORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^\W\d_A-Za-z]+", re.UNICODE)
_SEPARATORS = r"[\W_]*"
#: Name parts shorter than this are matched as whole words only ("Li" must not match "clinic").
SUBSTRING_MIN = 4
#: Words of institution names and addresses too common to identify anyone.
_GENERIC = frozenset({
    "hospital", "hospitals", "clinic", "clinics", "medical", "medicine", "center", "centre", "university",
    "general", "health", "healthcare", "children", "childrens", "memorial", "regional", "institute", "department",
    "radiology", "imaging", "street", "road", "avenue", "floor", "building", "suite", "saint", "city", "county",
    "national", "community", "foundation", "trust", "campus", "unit", "ward",
})
_ID_KEYS = ("patient_id", "other_patient_ids", "accession_number", "study_id", "device_serial_number")
_PLACE_KEYS = ("institution_name", "institution_address", "patient_address", "station_name")


def _is_latin(text: str) -> bool:
    return all(ord(c) < 0x250 for c in text)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _compact(text: str) -> str:
    return "".join(_words(text))


@dataclass(frozen=True)
class Identifiers:
    """The identifying values of one scan, ready to be found in or removed from a text.

    ``words`` match whole words (camel case split), ``patterns`` match anywhere, with any
    separators between their characters (so "jdoe" finds "J. Doe" and "j_doe").
    """

    words: frozenset = frozenset()
    patterns: frozenset = frozenset()

    @classmethod
    def of(cls, metadata: dict | None) -> Identifiers:
        metadata = metadata or {}
        words: set[str] = set()
        patterns: set[str] = set()
        for key in NAME_KEYS:
            if metadata.get(key):
                _add_names(str(metadata[key]), words, patterns)
        for key in _ID_KEYS:
            for value in re.split(r"\\", str(metadata.get(key) or "")):
                _add_id(value, words, patterns)
        for key in _PLACE_KEYS:
            if metadata.get(key):
                _add_place(str(metadata[key]), patterns)
        _add_date(str(metadata.get("patient_birth_date") or ""), patterns)
        for key in IDENTIFYING_KEYS:  # anything else identifying, as a whole value
            value = metadata.get(key)
            if key not in NAME_KEYS + _ID_KEYS + _PLACE_KEYS and value and len(_compact(str(value))) >= 5:
                patterns.add(_compact(str(value)))
        return cls(frozenset(words), frozenset(patterns))

    def __bool__(self) -> bool:
        return bool(self.words or self.patterns)

    @property
    def tokens(self) -> list[str]:
        return sorted(self.words | self.patterns)

    def found_in(self, text: str) -> bool:
        """True when ``text`` contains one of the identifying values."""
        if not self or not text:
            return False
        if self.words & {w.lower() for w in _SUBWORD.findall(text)} or self.words & set(_words(text)):
            return True
        return any(_pattern(p).search(text) for p in self.patterns)

    def scrub(self, text: str, replacement: str = "[removed]") -> str:
        """``text`` with every identifying value replaced by ``replacement``."""
        if not self or not text:
            return text
        for pattern in sorted(self.patterns, key=len, reverse=True):
            text = _pattern(pattern).sub(replacement, text)
        for word in sorted(self.words, key=len, reverse=True):
            text = re.sub(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])|(?<=[a-z]){_cap(word)}(?![a-z])",
                          replacement, text, flags=re.IGNORECASE if _is_latin(word) else 0)
        return text


def _cap(word: str) -> str:
    """A camel-case part ("Li" inside "ScanLi"), matched case-sensitively."""
    return "(?-i:" + re.escape(word[:1].upper() + word[1:]) + ")"


def _pattern(token: str) -> re.Pattern:
    return re.compile(_SEPARATORS.join(re.escape(c) for c in token), re.IGNORECASE)


def _add_word(word: str, words: set, patterns: set) -> None:
    if len(word) >= SUBSTRING_MIN or (not _is_latin(word) and len(word) >= 2):
        patterns.add(word)
    elif len(word) >= 2:
        words.add(word)


def _add_names(value: str, words: set, patterns: set) -> None:
    for person in value.split("\\"):
        for group in person.split("="):
            family_text, _, given_text = group.partition(",") if "," in group else ("", "", group)
            family, given = _words(family_text), _words(given_text)
            if not family and given:  # one unstructured name: last word is the family name
                family, given = given[-1:], given[:-1]
            for word in family + given:
                _add_word(word, words, patterns)
            if family and given:
                f, g = "".join(family), "".join(given)
                initials = "".join(w[0] for w in given)
                for combo in (f + g, g + f, initials + f, f + initials, g[0] + f):
                    if len(combo) >= 3:
                        patterns.add(combo)


def _add_id(value: str, words: set, patterns: set) -> None:
    value = value.strip().lower()
    compact = _compact(value)
    if len(compact) >= 3:
        patterns.add(compact)
    for part in _words(value):
        if (part.isdigit() and len(part) >= 6) or (not part.isdigit() and len(part) >= SUBSTRING_MIN
                                                   and any(c.isdigit() for c in part)):
            patterns.add(part)


def _add_place(value: str, patterns: set) -> None:
    compact = _compact(value)
    if len(compact) >= SUBSTRING_MIN:
        patterns.add(compact)
    for word in _words(value):
        if word not in _GENERIC and (len(word) >= 5 or (not _is_latin(word) and len(word) >= 2)) \
                and not word.isdigit():
            patterns.add(word)


def _add_date(value: str, patterns: set) -> None:
    digits = re.sub(r"\D", "", value)
    if len(digits) == 8:
        y, m, d = digits[:4], digits[4:6], digits[6:]
        patterns.update({y + m + d, d + m + y, m + d + y})
