"""Finding the lexicon's words in a text: tokens, phrase matches, and which language they are in."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from classifier.text.lexicon import (
    COLOUR_LABEL,
    EXACT,
    FILLER,
    FUNCTION,
    JOINER,
    LINK,
    NAMING,
    WITH,
    Entry,
    Lexicon,
    normalise,
)

# Token kinds that are not words
STRONG, WEAK = "strong", "weak"  # a sentence break; a comma, colon, bracket, emoji…
WORD = "word"  # a word the lexicon does not know
_TOKEN = re.compile(r"[^\W_]+|\n|[^\w\s]")
_STRONG = set(".!?;\n|•")
_JOIN = set("+&/")
_CYRILLIC = re.compile(r"[а-яіїєґ]")
_HYPHEN = re.compile(r"(?<=\w)[-‐‑–’'ʼ](?=\w)|(?<=\d)/(?=\d)")
# Only Cyrillic languages for Cyrillic words, the others for the rest.
CYRILLIC_LANGS = frozenset({"ru", "uk"})


@dataclass(frozen=True)
class Item:
    """One step of a text: a matched phrase, an unknown word, or a separator."""

    kind: str  # a lexicon kind (category, colour, part…), WORD, STRONG, WEAK or JOINER
    label: str
    text: str  # the words as matched
    langs: frozenset[str] = frozenset()


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


def _as_written(text: str, toks: list[str]) -> list[str]:
    """The tokens with their original case ("Бежевая"), where normalising kept them aligned."""
    raw = _TOKEN.findall(_HYPHEN.sub(" ", text))
    return raw if len(raw) == len(toks) else toks


def _kind_of(tok: str) -> str:
    if tok in _JOIN:
        return JOINER
    if tok in _STRONG:
        return STRONG
    return WEAK


def _starts(lexicon: Lexicon, w: str) -> list[tuple[str, bool, str, int]]:
    """Where phrases may start with word w: (language, exact?, first key, longest phrase).
    Cached per word on the lexicon: shops' words repeat from post to post."""
    hit = lexicon.starts.get(w)
    if hit is not None:
        return hit
    out: list[tuple[str, bool, str, int]] = []
    codes = CYRILLIC_LANGS if _CYRILLIC.search(w) else lexicon.latin
    for code in codes:
        lang = lexicon.languages.get(code)
        if lang is None or w[:2] not in lang.prefixes:
            continue
        for exact in (True, False):
            first = EXACT + w if exact else lang.stem(w)
            longest = lang.first.get(first, 0)
            if longest and (exact or longest > 1 or lang.ending_ok(first, w)):
                out.append((code, exact, first, longest))
    if len(lexicon.starts) < 500_000:
        lexicon.starts[w] = out
    return out


def _lookup(lexicon: Lexicon, toks: list[str], i: int) -> tuple[int, list[Entry]]:
    """The longest phrase of any language starting at word i: (length, its entries)."""
    best_n, found = 0, []
    w = toks[i]
    for code, exact, first, longest in _starts(lexicon, w):
        if longest < best_n:
            continue
        lang = lexicon.languages[code]
        key = [first]
        for j in range(i + 1, min(i + longest, len(toks))):
            t = toks[j]
            if not t[0].isalnum():
                break
            key.append(EXACT + t if exact else lang.stem(t))
        for n in range(len(key), 0, -1):
            if n < best_n:
                break
            hit = lang.index.get(tuple(key[:n]))
            if hit and n == 1 and not exact and not lang.ending_ok(first, w):
                hit = None
            if hit:
                if n > best_n:
                    best_n, found = n, []
                found.extend(hit)
                break
    if not best_n:
        found = _tail(lexicon, w, CYRILLIC_LANGS if _CYRILLIC.search(w) else lexicon.latin)
        best_n = 1 if found else 0
    return best_n, found


def _tail(lexicon: Lexicon, w: str, codes: Iterable[str]) -> list[Entry]:
    """A compound read by its last part ("sommerkleid" -> "kleid"), 3+ letters in front."""
    for code in codes:
        lang = lexicon.languages.get(code)
        if lang is None or not lang.tails:
            continue
        for k in range(3, len(w) - 3):
            hit = lang.tails.get(w[k:])
            if hit:
                return list(hit)
    return []


Raw = tuple[int, int, list[Entry], str, str]  # start, end, entries, words, words as written


def items(text: str, lexicon: Lexicon) -> list[Raw]:
    """Raw matches over the tokens — entries empty for unknown words and separators (the kind
    is then the token's own)."""
    toks = tokens(text)
    shown = _as_written(text, toks)
    out: list[Raw] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if not t[0].isalnum():
            out.append((i, i + 1, [], t, t))
            i += 1
            continue
        n, entries = _lookup(lexicon, toks, i)
        if n:
            out.append((i, i + n, entries, " ".join(toks[i : i + n]), " ".join(shown[i : i + n])))
            i += n
        else:
            out.append((i, i + 1, [], t, shown[i]))
            i += 1
    return out


def resolve(raw: list[list[Raw]], lexicon: Lexicon) -> list[list[Item]]:
    """One meaning per match, across all of a post's fields at once.

    A word listed in several languages with different meanings ("robe": a dress in French, a
    bathrobe in English) takes the meaning of the language the rest of the post is written
    in; a word of a language nothing else in the post is written in ("rock", a skirt in
    German, in "Hard Rock men black t-shirt") is dropped unless the post has no other words."""
    support = _support(w for field in raw for w in field)
    out: list[list[Item]] = []
    for field in raw:
        # The field's own words count twice: "#robenoire" is French whatever the caption is.
        here = support + _support(field)
        top = max(here.values(), default=0.0)
        seq: list[Item] = []
        for _, _, entries, text, shown in field:
            if not entries:
                seq.append(Item(WORD if text[0].isalnum() else _kind_of(text), "", shown))
                continue
            seq.append(replace(_meaning(entries, text, here, top), text=shown))
        out.append(seq)
    return out


def _support(matches: Iterable[Raw]) -> Counter[str]:
    """How much of the text each language explains: a word listed in n languages gives each
    1/n ("jeans" says little about the language, "vestido" much)."""
    out: Counter[str] = Counter()
    for _, _, entries, _, _ in matches:
        langs = {e.lang for e in entries}
        for lang in langs:
            out[lang] += 1 / len(langs)
    return out


_PLAIN_KINDS = (COLOUR_LABEL, WITH, JOINER, LINK, FUNCTION, FILLER)


def _meaning(entries: list[Entry], text: str, support: Counter[str], top: float) -> Item:
    meanings: dict[tuple[str, str], set[str]] = {}
    for e in entries:
        meanings.setdefault((e.kind, e.label), set()).add(e.lang)

    def weight(langs: set[str]) -> float:
        return max(support[lang] for lang in langs)

    naming = {k: v for k, v in meanings.items() if k[0] in NAMING}
    plain = {k: v for k, v in meanings.items() if k[0] not in NAMING}
    best_plain = max((weight(v) for v in plain.values()), default=-1.0)
    # "color" is a link word in Spanish, a colour in Portuguese ("colorido"): the language
    # the text is written in decides; a tie goes to the word that names something only where
    # that word is listed as written ("are" is English, not the Portuguese "areia" stemmed).
    listed = {(e.kind, e.label) for e in entries if " ".join(e.words) == text}
    naming = {
        k: v
        for k, v in naming.items()
        if weight(v) > best_plain or (weight(v) == best_plain and k in listed)
    }
    if not naming:
        for kind in _PLAIN_KINDS:
            for (k, _), langs in plain.items():
                if k == kind:
                    return Item(kind, "", text, frozenset(langs))
        return Item(WORD, "", text)
    langs_here = {e.lang for e in entries}
    ranked = sorted(naming.items(), key=lambda kv: weight(kv[1]), reverse=True)
    (kind, label), langs = ranked[0]
    if len(ranked) > 1 and weight(ranked[1][1]) == weight(langs):
        english = [m for m in ranked if "en" in m[1]]
        if not english:
            return Item(WORD, "", text)  # as likely one thing as another: read nothing
        (kind, label), langs = english[0]  # a tie: shops mix English into every language
    share = 2 / len(langs_here)  # what this word itself gave each of its languages
    others = max((support[lang] - share * (lang in langs_here) for lang in support), default=0)
    own = max(support[lang] - share for lang in langs)
    # A word of a language the rest of the text is not written in ("china", Spanish "chinos"
    # stemmed, in an English sentence): a coincidence of spelling. English is read everywhere.
    # A word listed as written ("azul") is no coincidence: it needs only a fair share of the text.
    stem_only = (kind, label) not in listed
    if "en" not in langs and others >= 1 and (weight(langs) < top / 2 or (own < 1 and stem_only)):
        return Item(WORD, "", text)
    return Item(kind, label, text, frozenset(langs))
