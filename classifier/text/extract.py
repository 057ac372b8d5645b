"""What a post's words say about its category and colour: `extract(PostText) -> TextEvidence`.

Each field is read on its own, with rules for how shops write:
- a product word names the product; two different ones ("dress and jacket", "shirt + trousers")
  name several products, and the text then says nothing sure about the category;
- in a compound the head word names it ("shirt dress" is a dress; "платье-рубашка" too), and a
  product word before a non-taxonomy one is a modifier ("shoe bag" is a bag);
- a colour right before or after the product word ("beige blouse", "blouse in beige",
  "платье чёрное") is the product's; a colour before a part ("black buttons", "white sole")
  or after "goes with our…" belongs to something else and counts little;
- Shopify's colour options are the shop's own statement of the colour: the strongest source.
Strength 1.0 means the words plainly name the label; the fusion weighs clues by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.evidence import Clue, PostText, TextEvidence
from classifier.text.lexicon import (
    BUNDLE,
    CATEGORY,
    COLOUR,
    COLOUR_LABEL,
    COLOUR_WEAK,
    FILLER,
    FUNCTION,
    JOINER,
    LINK,
    NEUTRAL,
    OTHER,
    PAIRING,
    PART,
    WITH,
    Lexicon,
    load_lexicon,
)
from classifier.text.match import STRONG, WEAK, WORD, Item, items, resolve
from classifier.text.plain import html_to_text, segment, split_hashtags, strip_links

# How much each field is worth when its words plainly name a label.
SOURCE_STRENGTH = {
    "options": 1.0,
    "title": 1.0,
    "product_type": 0.95,
    "tags": 0.8,
    "hashtags": 0.85,
    "caption": 0.9,
    "body": 0.85,
}
# The fields that name the product itself (a Shopify product's description does not).
NAMING_SOURCES = ("title", "product_type")
# Multipliers for how the words name it.
NEAR = 1.0  # colour next to the product word
WINDOW = 0.9  # colour a few words from it
LOOSE = 0.6  # colour with no product word near it
OTHER_PRODUCT = 0.25  # colour of a part, of a paired product, of an accessory
WEAK_SHADE = 0.7  # cream, denim: a shade that names a colour loosely
SEVERAL = 0.35  # each of several products or colours named side by side
WITH_ACCESSORY = 0.6  # the product word with a non-taxonomy product beside it (a set?)
PARTIAL_HASHTAG = 0.8  # a hashtag read with an unknown word left in it
# A narrower category implied with a broader one: "polo … t-shirt" is a polo.
NARROWER = {
    frozenset({"Polo", "T-Shirt"}): "Polo",
    frozenset({"Polo", "Shirt"}): "Polo",
    frozenset({"Blouse", "Top"}): "Blouse",
    frozenset({"Longsleeve", "T-Shirt"}): "Longsleeve",
}
# Two labels both at least this strong, and no more than MARGIN apart: the text is ambiguous.
FLOOR = 0.5
MARGIN = 0.3
WINDOW_WORDS = 3
MODIFIER = "modifier"  # a product word read as part of another's name ("jean" in "jupe en jean")
HEAD_GAP = 4


@dataclass
class _Found:
    clues: list[Clue]
    several: set[str]


def extract(post: PostText, lexicon: Lexicon | None = None) -> TextEvidence:
    """The clues in a post's words. Never raises on odd text; empty text gives no clues."""
    lex = lexicon or load_lexicon()
    # (source, one text read on its own, its worth, what a clue from it shows when not its words)
    flat: list[tuple[str, str, float, str]] = [("options", o, 1.0, "") for o in post.options]
    if post.title:
        flat.append(("title", post.title, 1.0, ""))
    if post.product_type:
        flat.append(("product_type", post.product_type, 1.0, ""))
    flat += [("tags", t, 1.0, "") for t in post.tags]
    if post.caption:
        caption = strip_links(html_to_text(post.caption))
        rest, tags = split_hashtags(caption)
        for tag in tags:
            split = segment(tag, lex)
            if split:
                worth = 1.0 if split[1] else PARTIAL_HASHTAG
                flat.append(("hashtags", " ".join(split[0]), worth, "#" + tag))
        flat.append(("caption", rest, 1.0, ""))
    resolved = resolve([items(text, lex) for _, text, _, _ in flat], lex)
    found = _Found([], set())
    by_source: dict[str, list[tuple[list[Item], float, str]]] = {}
    for (src, _, worth, shown), seq in zip(flat, resolved, strict=True):
        by_source.setdefault(src, []).append((seq, worth, shown))
    for src, seqs in by_source.items():
        base = SOURCE_STRENGTH[src]
        if src in ("options", "tags", "hashtags"):
            _read_separately(src, seqs, base, lex, found)
        else:
            for seq, worth, shown in seqs:
                _read(src, seq, base * worth, lex, found, shown)
    return _decide(found)


def _read_separately(
    src: str, seqs: list[tuple[list[Item], float, str]], base: float, lex: Lexicon, found: _Found
) -> None:
    """Options and tags: each value is read alone; several values naming different labels
    (a product sold in black, white and red) say several."""
    local = _Found([], set())
    for seq, worth, shown in seqs:
        _read(src, seq, base * worth, lex, local, shown)
    for head in ("category", "colour"):
        clues = [c for c in local.clues if c.head == head and c.strength >= FLOOR]
        if len({c.label for c in clues}) > 1:
            local.several.add(head)
            local.clues = [
                _with(c, min(c.strength, SEVERAL)) if c.head == head else c for c in local.clues
            ]
    found.clues.extend(local.clues)
    found.several |= local.several


def _with(c: Clue, strength: float) -> Clue:
    return Clue(c.head, c.label, c.source, c.text, round(max(0.0, min(1.0, strength)), 3))


def _read(
    src: str, seq: list[Item], base: float, lex: Lexicon, found: _Found, shown: str = ""
) -> None:
    """One text's clues into `found`; `shown` replaces the matched words in them ("#robenoire")."""
    seq = _compounds(seq, lex)
    elsewhere = _paired(seq, lex)
    cats = [i for i, it in enumerate(seq) if it.kind == CATEGORY]
    primary = [i for i in cats if i not in elsewhere]
    labels = {seq[i].label for i in primary}
    if len(labels) > 1:
        narrower = NARROWER.get(frozenset(labels))
        if narrower:
            labels = {narrower}
            primary = [i for i in primary if seq[i].label == narrower]
    accessories = any(it.kind == OTHER for i, it in enumerate(seq) if i not in elsewhere)
    several_cats = len(labels) > 1
    if several_cats:
        found.several.add("category")
    for i in cats:
        if i in elsewhere:
            s = OTHER_PRODUCT
        elif several_cats:
            s = SEVERAL
        elif i not in primary:
            continue  # the broader word of a narrower pair
        elif accessories:
            s = WITH_ACCESSORY
        else:
            s = 1.0
        text = shown or seq[i].text
        found.clues.append(Clue("category", seq[i].label, src, text, round(base * s, 3)))
    colours = _colours(seq, elsewhere, bool(primary), accessories)
    if src == "options":  # an option value is the variant's colour, whatever words surround it
        colours = [(i, WEAK_SHADE if seq[i].kind == COLOUR_WEAK else 1.0) for i, _ in colours]
    strong = {seq[i].label for i, s in colours if s >= FLOOR}
    several_colours = len(strong) > 1
    for i, s in colours:
        if several_colours and s >= FLOOR:
            s = min(s, SEVERAL)
        text = shown or seq[i].text
        found.clues.append(Clue("colour", seq[i].label, src, text, round(base * s, 3)))
    if several_colours:
        found.several.add("colour")


_GAP = (WORD, COLOUR, COLOUR_WEAK, PART, FUNCTION, FILLER, NEUTRAL, LINK, MODIFIER)


def _compounds(seq: list[Item], lex: Lexicon) -> list[Item]:
    """Keep the head of product words written together: the others are modifiers.

    "shirt dress" is a dress, "Fast Jacket Black Sunglasses" sunglasses, "Top Black Dress" a
    dress (the last word in English, German, Turkish); "платье-рубашка" a dress (the first in
    Russian, French…). Words count as together when nothing but plain words, colours and parts
    lie between (at most HEAD_GAP of them): a comma, "and", "+" or "with" keeps both."""
    out = list(seq)
    prev: int | None = None
    gap = 0
    for i, it in enumerate(out):
        if it.kind in (CATEGORY, OTHER):
            if prev is not None and gap <= HEAD_GAP:
                a = out[prev]
                head_final = any(lex.languages[c].head_final for c in a.langs if c in lex.languages)
                if head_final:
                    out[prev] = Item(MODIFIER, "", a.text)
                else:
                    out[i] = Item(MODIFIER, "", it.text)
                    continue
            prev, gap = i, 0
        elif it.kind in _GAP:
            gap += 1  # "jupe en jean": a denim skirt
        else:
            prev = None
    return out


def _paired(seq: list[Item], lex: Lexicon) -> set[int]:
    """Indices after a pairing phrase ("goes with our …") up to the end of its sentence; in a
    language whose pairing phrase follows its object, back to the previous break."""
    out: set[int] = set()
    on = False
    for i, it in enumerate(seq):
        if it.kind == PAIRING:
            if any(lex.languages[c].pairing_follows for c in it.langs if c in lex.languages):
                j = i - 1
                while j >= 0 and seq[j].kind not in (STRONG, WEAK):
                    out.add(j)
                    j -= 1
            else:
                on = True
        elif it.kind == STRONG:
            on = False
        elif on:
            out.add(i)
    return out


# Between a product and its colour after it: "maglione di lana grigio", "dress, black".
_SKIP_LEFT = (LINK, FUNCTION, WEAK, MODIFIER, WORD, FILLER)


def _colours(
    seq: list[Item], elsewhere: set[int], has_category: bool, accessories: bool
) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    attached: dict[int, float] = {}
    for i, it in enumerate(seq):
        if it.kind not in (COLOUR, COLOUR_WEAK):
            continue
        shade = WEAK_SHADE if it.kind == COLOUR_WEAK else 1.0
        if i in elsewhere:
            s = OTHER_PRODUCT
        else:
            s = _right(seq, i, has_category, elsewhere)
            if s is None:
                s = _left(seq, i, has_category, attached, elsewhere)
            if s is None:
                s = LOOSE if has_category or not accessories else 0.7
        attached[i] = s
        out.append((i, s * shade))
    return out


def _target(kind: str, i: int, has_category: bool, elsewhere: set[int], dist: int) -> float | None:
    if kind == CATEGORY:
        if i in elsewhere:
            return OTHER_PRODUCT
        return NEAR if dist <= 1 else WINDOW
    if kind == PART:
        return OTHER_PRODUCT
    if kind == OTHER:
        return OTHER_PRODUCT if has_category else 0.8
    return None


def _right(seq: list[Item], i: int, has_category: bool, elsewhere: set[int]) -> float | None:
    """Colour before the thing it colours: "black dress", "black and white dress",
    "black cotton dress", "black buttons"."""
    words = 0
    for j in range(i + 1, len(seq)):
        it = seq[j]
        hit = _target(it.kind, j, has_category, elsewhere, words + 1)
        if hit is not None:
            return hit
        if it.kind in (COLOUR, COLOUR_WEAK):
            continue
        if it.kind == JOINER and j + 1 < len(seq) and seq[j + 1].kind in (COLOUR, COLOUR_WEAK):
            continue
        if it.kind in (WORD, FUNCTION, BUNDLE, FILLER, NEUTRAL, MODIFIER):
            words += 1
            if words > WINDOW_WORDS:
                return None
            continue
        return None  # a break, a joiner, a link word: the colour ends here
    return None


def _left(
    seq: list[Item], i: int, has_category: bool, attached: dict[int, float], elsewhere: set[int]
) -> float | None:
    """Colour after its product: "blouse in beige", "платье чёрное", "dress, black"; or the
    second of "black and white" (same as the first)."""
    words = 0
    for j in range(i - 1, -1, -1):
        it = seq[j]
        if it.kind in (CATEGORY, PART, OTHER):  # "botones azules" are the buttons' colour
            return _target(it.kind, j, has_category, elsewhere, words + 1)
        if it.kind == COLOUR_LABEL:  # "Colour: grey", "цвет чёрный": the shop says so
            return NEAR
        if it.kind in (JOINER, WITH):
            if it.kind == JOINER and j > 0 and (j - 1) in attached:
                return attached[j - 1]  # "black and white": the second as the first
            # "… with white X", "goes well with pink"; after "and" the colour stands alone
            return OTHER_PRODUCT if it.kind == WITH else None
        if it.kind in _SKIP_LEFT:
            words += it.kind != LINK  # "blouse in beige" is as near as "blouse beige"
            if words > WINDOW_WORDS:
                return None
            continue
        return None
    return None


def _decide(found: _Found) -> TextEvidence:
    """Ambiguous heads: two labels both strong and close, or several named and none strong."""
    ambiguous: set[str] = set()
    # A product's title and type name it; its description then speaks of its parts and of what
    # to wear it with ("Della Embroidered Mini Dress": "… Corset style top …", a real fab'rik
    # product): another product word there is no second product.
    named = {
        c.label
        for c in found.clues
        if c.head == "category" and c.source in NAMING_SOURCES and c.strength >= FLOOR
    }
    if named:
        found.clues = [
            c
            for c in found.clues
            if not (c.head == "category" and c.source == "caption" and c.label not in named)
        ]
    for head in ("category", "colour"):
        scores: dict[str, float] = {}
        for c in found.clues:
            if c.head == head:
                scores[c.label] = max(scores.get(c.label, 0.0), c.strength)
        # A broad word beside a narrow one is no conflict: title "Mila Blouse" under the
        # product type "Tops" is a blouse.
        for pair, narrow in NARROWER.items():
            if pair <= scores.keys():
                (broad,) = pair - {narrow}
                scores[narrow] = max(scores[narrow], scores.pop(broad))
                found.clues = [c for c in found.clues if c.label != broad]
        ranked = sorted(scores.values(), reverse=True)
        strong = [s for s in ranked if s >= FLOOR]
        if (len(strong) > 1 and strong[0] - strong[1] < MARGIN) or (
            not strong and head in found.several
        ):
            ambiguous.add(head)
    return TextEvidence.of(found.clues, ambiguous)
