"""Finding the lexicon's words in a text: tokens, phrase matches, and which language they are in."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from classifier.text.lexicon import (
    EXACT,
    FILLER,
    FUNCTION,
    JOINER,
    LINK,
    NAMING,
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


def _kind_of(tok: str) -> str:
    if tok in _JOIN:
        return JOINER
    if tok in _STRONG:
        return STRONG
    return WEAK


def _lookup(lexicon: Lexicon, toks: list[str], i: int) -> tuple[int, list[Entry]]:
    """The longest phrase of any language starting at word i: (length, its entries)."""
    best_n, found = 0, []
    w = toks[i]
    codes = CYRILLIC_LANGS if _CYRILLIC.search(w) else lexicon.latin
    for code in codes:
        lang = lexicon.languages.get(code)
        if lang is None or w[:2] not in lang.prefixes:
            continue
        for exact in (True, False):
            first = EXACT + w if exact else lang.stem(w)
            longest = lang.first.get(first, 0)
            if longest < best_n:
                continue
            key = [first]
            n_max = 1
            for j in range(i + 1, min(i + longest, len(toks))):
                t = toks[j]
                if not t[0].isalnum():
                    break
                key.append(EXACT + t if exact else lang.stem(t))
                n_max += 1
            for n in range(n_max, 0, -1):
                if n < best_n:
                    break
                hit = lang.index.get(tuple(key[:n]))
                if hit:
                    if n > best_n:
                        best_n, found = n, []
                    found.extend(hit)
                    break
    return best_n, found


def items(text: str, lexicon: Lexicon) -> list[tuple[int, int, list[Entry], str]]:
    """Raw matches over the tokens: (start, end, entries, words) — entries empty for unknown
    words and separators (the kind is then the token's own)."""
    toks = tokens(text)
    out: list[tuple[int, int, list[Entry], str]] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if not t[0].isalnum():
            out.append((i, i + 1, [], t))
            i += 1
            continue
        n, entries = _lookup(lexicon, toks, i)
        if n:
            out.append((i, i + n, entries, " ".join(toks[i : i + n])))
            i += n
        else:
            out.append((i, i + 1, [], t))
            i += 1
    return out


def resolve(
    raw: list[list[tuple[int, int, list[Entry], str]]], lexicon: Lexicon
) -> list[list[Item]]:
    """One meaning per match, across all of a post's fields at once.

    A word listed in several languages with different meanings ("robe": a dress in French, a
    bathrobe in English) takes the meaning of the language the rest of the post is written
    in; a word of a language nothing else in the post is written in ("rock", a skirt in
    German, in "Hard Rock men black t-shirt") is dropped unless the post has no other words."""
    support: Counter[str] = Counter()
    for field in raw:
        for _, _, entries, _ in field:
            support.update({e.lang for e in entries})
    top = max(support.values(), default=0)
    out: list[list[Item]] = []
    for field in raw:
        seq: list[Item] = []
        for _, _, entries, text in field:
            if not entries:
                seq.append(Item(WORD if text[0].isalnum() else _kind_of(text), "", text))
                continue
            seq.append(_meaning(entries, text, support, top))
        out.append(seq)
    return out


_PLAIN_KINDS = (JOINER, LINK, FUNCTION, FILLER)


def _meaning(entries: list[Entry], text: str, support: Counter[str], top: int) -> Item:
    meanings: dict[tuple[str, str], set[str]] = {}
    for e in entries:
        meanings.setdefault((e.kind, e.label), set()).add(e.lang)
    naming = {k: v for k, v in meanings.items() if k[0] in NAMING}
    if not naming:
        for kind in _PLAIN_KINDS:
            for (k, _), langs in meanings.items():
                if k == kind:
                    return Item(kind, "", text, frozenset(langs))
        return Item(WORD, "", text)
    langs_here = {e.lang for e in entries}

    def weight(langs: set[str]) -> int:
        return max(support[lang] for lang in langs)

    ranked = sorted(naming.items(), key=lambda kv: weight(kv[1]), reverse=True)
    (kind, label), langs = ranked[0]
    if len(ranked) > 1 and weight(ranked[1][1]) == weight(langs):
        return Item(WORD, "", text)  # as likely one thing as another: read nothing
    others = max((support[lang] - (lang in langs_here) for lang in support), default=0)
    own = max(support[lang] - 1 for lang in langs)
    if weight(langs) < top and own < 1 and others >= 1 and "en" not in langs:
        return Item(WORD, "", text)
    return Item(kind, label, text, frozenset(langs))
