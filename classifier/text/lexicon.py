"""The lexicon: every language's words for Vitrina's labels, loaded from `lexicon/<lang>.toml`.

Entries are indexed by their stems, one index per language, so that "dresses", "платья" and
"Kleider" reach the word listed as "dress", "платье" and "Kleid". Stemming uses Snowball
(`snowballstemmer`); a language without a Snowball stemmer lists its endings in its file
(`suffixes`), stripped longest first.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

import snowballstemmer

from catalog.taxonomy import CATEGORIES, COLOURS

# What a lexicon entry says when it matches.
CATEGORY, COLOUR, COLOUR_WEAK = "category", "colour", "colour_weak"
OTHER, NEUTRAL = "other", "neutral"
COLOUR_LABEL, WITH = "colour_label", "with"
PART, PAIRING, JOINER, BUNDLE, LINK, FUNCTION, FILLER = (
    "part",
    "pairing",
    "joiner",
    "bundle",
    "link",
    "function",
    "filler",
)
# Kinds that name something (a match of one of these consumes its words).
NAMING = (CATEGORY, COLOUR, COLOUR_WEAK, OTHER, NEUTRAL, PART, PAIRING, BUNDLE)
TAIL_KINDS = (CATEGORY, COLOUR, COLOUR_WEAK, OTHER)
EXACT = "="  # entry prefix: match the written form only, never its stem

_WORD = re.compile(r"[^\W_]+|[+&/]")


def normalise(text: str) -> str:
    """Case-folded, NFKC, "ё" read as "е", hyphens and apostrophes inside words as spaces."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    text = re.sub(r"(?<=\d)/(?=\d)", " ", text)  # "3/4 length" is no "3 and 4"
    return re.sub(r"(?<=\w)[-‐‑–’'ʼ](?=\w)", " ", text)


def words(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


@dataclass(frozen=True)
class Entry:
    kind: str
    label: str  # a category or colour for those kinds, else ""
    lang: str
    words: tuple[str, ...]  # as listed, normalised


@dataclass
class Language:
    code: str
    head_final: bool
    stem: Callable[[str], str]
    # key (tuple of stems, or of "=word" for exact entries) -> entries
    index: dict[tuple[str, ...], list[Entry]] = field(default_factory=dict)
    # first key -> longest phrase starting with it, to bound the lookups
    first: dict[str, int] = field(default_factory=dict)
    surfaces: set[str] = field(default_factory=set)  # every listed word, for hashtag splitting
    # first two letters of every first key: a word starting otherwise is never stemmed here
    prefixes: set[str] = field(default_factory=set)
    # compound languages: "sommerkleid" ends in "kleid"; inflected single words -> entries
    tails: dict[str, list[Entry]] = field(default_factory=dict)
    # languages listing `endings`: a word reaches a stem only through one of them, or through
    # an ending a listed form has ("peter" is no Spanish "peto", though both stem to "pet")
    endings: frozenset[str] | None = None
    # the pairing phrase follows what it pairs with (Turkish: "beyaz pantolon ile kombinle")
    pairing_follows: bool = False
    seen_endings: dict[str, set[str]] = field(default_factory=dict)

    def ending_ok(self, stem: str, word: str) -> bool:
        if self.endings is None or not word.startswith(stem):
            return True
        end = word[len(stem) :]
        seen = self.seen_endings.get(stem, set())
        return end in self.endings or end in seen or (end[-1:] == "s" and end[:-1] in seen)

    def add(self, entry: Entry, exact: bool) -> None:
        key = tuple(EXACT + w for w in entry.words) if exact else tuple(map(self.stem, entry.words))
        if not exact and len(key) == 1 and entry.words[0].startswith(key[0]):
            self.seen_endings.setdefault(key[0], set()).add(entry.words[0][len(key[0]) :])
        self.index.setdefault(key, []).append(entry)
        self.first[key[0]] = max(self.first.get(key[0], 0), len(key))
        self.prefixes.add(entry.words[0][:2])
        self.surfaces.update(entry.words)


def _suffix_stemmer(
    suffixes: Iterable[str], min_stem: int, final: dict[str, str], repeat: bool
) -> Callable[[str], str]:
    ordered = sorted({normalise(s) for s in suffixes}, key=len, reverse=True)

    def strip(word: str) -> str:
        for s in ordered:
            if word.endswith(s) and len(word) - len(s) >= min_stem:
                return word[: -len(s)]
        return word

    def stem(word: str) -> str:
        # Agglutinative endings stack ("elbise-ler-i"): strip until none is left.
        for _ in range(4 if repeat else 1):
            shorter = strip(word)
            if shorter == word:
                break
            word = shorter
        last = final.get(word[-1:])
        return word[:-1] + last if last else word

    return stem


def _stemmer(name: str, data: dict) -> Callable[[str], str]:
    if name == "suffixes":
        base = _suffix_stemmer(
            data.get("suffixes", ()),
            int(data.get("min_stem", 3)),
            data.get("stem_final", {}),
            bool(data.get("repeat", False)),
        )
    else:
        base = snowballstemmer.stemmer(name).stemWord
    # Tokens repeat across posts (the same shop's words every night): stem each once.
    return lru_cache(maxsize=200_000)(base)


def _entries(data: dict, lang: str) -> Iterable[tuple[Entry, bool]]:
    def make(kind: str, label: str, items: Iterable[str]) -> Iterable[tuple[Entry, bool]]:
        for raw in items:
            exact = raw.startswith(EXACT)
            ws = tuple(words(raw.removeprefix(EXACT)))
            if ws:
                yield Entry(kind, label, lang, ws), exact

    for head, kind, allowed in (
        ("category", CATEGORY, CATEGORIES),
        ("colour", COLOUR, COLOURS),
        ("colour_weak", COLOUR_WEAK, COLOURS),
    ):
        for label, items in data.get(head, {}).items():
            if label not in allowed:
                raise ValueError(f"lexicon {lang}: [{head}] has unknown label {label!r}")
            yield from make(kind, label, items)
    yield from make(OTHER, "", data.get("other", {}).get("products", ()))
    yield from make(NEUTRAL, "", data.get("neutral", {}).get("phrases", ()))
    ctx = data.get("context", {})
    for kind, key in (
        (PART, "parts"),
        (PAIRING, "pairing"),
        (JOINER, "joiners"),
        (WITH, "with_words"),
        (BUNDLE, "bundles"),
        (LINK, "links"),
        (COLOUR_LABEL, "colour_labels"),
        (FUNCTION, "function"),
        (FILLER, "filler"),
    ):
        yield from make(kind, "", ctx.get(key, ()))


def load_language(code: str, text: str) -> Language:
    data = tomllib.loads(text)
    if data.get("language") != code:
        raise ValueError(f"lexicon {code}.toml says language = {data.get('language')!r}")
    lang = Language(code, bool(data.get("head_final", False)), _stemmer(data["stemmer"], data))
    lang.pairing_follows = bool(data.get("pairing_follows", False))
    if "endings" in data:
        lang.endings = frozenset(["", *map(normalise, data["endings"])])
    exact_colours = bool(data.get("exact_colours", False))
    for entry, exact in _entries(data, code):
        # Parts are matched as written: "striped" (a pattern) must not reach "stripe" (a part);
        # so are colours where they do not inflect ("oranges" and "mushrooms" are food).
        colour = entry.kind in (COLOUR, COLOUR_WEAK) and exact_colours
        lang.add(entry, exact or entry.kind == PART or colour)
    if data.get("compound_tails"):
        endings = data.get("tail_endings", [""])
        for entries in lang.index.values():
            for e in entries:
                if len(e.words) == 1 and len(e.words[0]) >= 4 and e.kind in TAIL_KINDS:
                    for end in endings:
                        lang.tails.setdefault(e.words[0] + end, []).append(e)
    return lang


@dataclass
class Lexicon:
    languages: dict[str, Language]

    def __post_init__(self) -> None:
        self.surfaces: set[str] = set().union(*(lang.surfaces for lang in self.languages.values()))
        self.max_surface = max((len(s) for s in self.surfaces), default=1)
        self.latin: tuple[str, ...] = tuple(c for c in self.languages if c not in ("ru", "uk"))
        self.starts: dict[str, list[tuple[str, bool, str, int]]] = {}  # see match._starts
        self.segments: dict[str, tuple[list[str], bool] | None] = {}  # see plain.segment


LANGUAGES: tuple[str, ...] = ("en", "ru", "uk", "de", "fr", "es", "it", "pt", "pl", "tr")


@cache
def load_lexicon(codes: tuple[str, ...] | None = None) -> Lexicon:
    """The shipped lexicon (every language found in the package unless `codes` names some)."""
    folder = resources.files("classifier.text") / "lexicon"
    wanted = codes or tuple(c for c in LANGUAGES if (folder / f"{c}.toml").is_file())
    return Lexicon(
        {c: load_language(c, (folder / f"{c}.toml").read_text(encoding="utf-8")) for c in wanted}
    )
