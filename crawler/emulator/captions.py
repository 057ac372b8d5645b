"""What a shop writes next to its photos, made from the photos' true labels.

Real feeds mix posts whose words describe the photo ("Новинка: бежевая блузка ✨ 2 490 ₽"),
posts with no useful words at all ("New drop 🔥", "link in bio") and posts whose words name
other things too ("with black buttons", "goes with our white jeans"). `write` makes all three
kinds, in the shop's languages, with prices, hashtags and emoji; everything is drawn from a
`random.Random` the caller seeds, so a catalogue is reproducible.
"""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass, field
from typing import Any

from catalog.taxonomy import CATEGORIES, COLOURS
from crawler.emulator.lexicon import (
    LANGUAGES,
    adjective,
    colour_name,
    in_colour,
    nouns,
    plural_adjective,
)

USEFUL, VAGUE, MIXED = "useful", "vague", "mixed"
# Garments whose buttons a caption may mention ("with black buttons"): not a cap's or a shoe's.
BUTTONED = {"Shirt", "Blouse", "Blazer", "Outwear", "Polo", "Dress", "Body", "Longsleeve"}
VAGUE_SHARE, MIXED_SHARE = 0.30, 0.12

# The demo shops' languages (first = most posts); other shops get two from a hash of the handle.
SHOP_LANGUAGES: dict[str, tuple[str, str]] = {
    "atelier_lina": ("ru", "uk"),
    "nordic_knits": ("en", "de"),
    "linen_house": ("fr", "it"),
    "vintage_rails": ("tr", "en"),
    "knitwear.bsky.social": ("uk", "pl"),
    "denimdept.bsky.social": ("es", "pt"),
    "harbour-wool": ("de", "en"),
    "sunday-tees": ("pl", "pt"),
}

EMOJI = ("✨", "🔥", "🖤", "🤍", "💛", "🌿", "☀️", "🛍", "💌", "👀", "🙌", "🌸")

_USEFUL: dict[str, tuple[str, ...]] = {
    "en": (
        "New in: {item} {emoji} {price}",
        "{Item} — {price}. DM to order 💌",
        "Just dropped: our {item}. Sizes S–L, {price}",
        "Back in stock 🙌 {Item}, {price}",
        "{Item} {emoji} one of a kind, {price} + shipping",
        "Restocked the {noun} {incol}! {price}",
    ),
    "ru": (
        "Новинка: {item} {emoji}\nЦена: {price}",
        "{Item} — {price}. Пишите в директ 💌",
        "В наличии {item}, размеры S–L. {price}",
        "{Noun} {incol} {emoji} {price}",
        "Снова в наличии: {item}! {price}",
    ),
    "uk": (
        "Новинка: {item} {emoji}\nЦіна: {price}",
        "{Item} — {price}. Пишіть у дірект 💌",
        "В наявності {item}, розміри S–L. {price}",
        "{Noun} {incol} {emoji} {price}",
    ),
    "de": (
        "Neu im Shop: {item} {emoji} {price}",
        "{Item} – {price}, nur einmal verfügbar 🖤",
        "Wieder da: {Noun} {incol}! {price}",
    ),
    "fr": (
        "Nouveauté : {item} {emoji} {price}",
        "{Item} — {price}, pièce unique 🤍",
        "De retour en stock : {noun} {incol} ! {price}",
    ),
    "es": (
        "Novedad: {item} {emoji} {price}",
        "{Item} — {price}. Pedidos por DM 💌",
        "¡Vuelve! {Noun} {incol}, {price}",
    ),
    "it": (
        "Novità: {item} {emoji} {price}",
        "{Item} — {price}, pezzo unico 🤍",
        "Di nuovo disponibile: {noun} {incol}! {price}",
    ),
    "pt": (
        "Novidade: {item} {emoji} {price}",
        "{Item} — {price}. Chama no direct 💌",
        "Voltou! {Noun} {incol}, {price}",
    ),
    "pl": (
        "Nowość: {item} {emoji} {price}",
        "{Item} — {price}. Zamówienia w wiadomości 💌",
        "Znowu w sprzedaży: {item}! {price}",
        "{Noun} {incol}, {price}",
    ),
    "tr": (
        "Yeni sezon: {item} {emoji} {price}",
        "{Item} — {price}. Sipariş için DM 💌",
        "Tekrar stokta: {item}! {price}",
    ),
}

# Words that name something besides the garment: its buttons, or another item to wear with it.
_MIXED: dict[str, tuple[str, ...]] = {
    "en": (
        "{Item} with {ocol} buttons, {price}",
        "{Item} — goes with our {oitem} 👌 {price}",
        "Styled with the {oitem} (sold separately). {Item}: {price}",
    ),
    "ru": ("{Item}, пуговицы {ocol_p}. {price}", "{Item} + {oitem} = идеальный образ 👌 {price}"),
    "uk": ("{Item}, ґудзики {ocol_p}. {price}", "{Item} + {oitem} = ідеальний образ 👌 {price}"),
    "de": ("{Item}, Knöpfe {oin}. {price}", "{Item} – passt perfekt zu: {oitem} 👌 {price}"),
    "fr": ("{Item}, boutons {ocol_p}. {price}", "{Item} — à porter avec : {oitem} 👌 {price}"),
    "es": ("{Item} con botones {ocol_p}, {price}", "{Item} — combínalo con: {oitem} 👌 {price}"),
    "it": ("{Item} con bottoni {ocol_p}, {price}", "{Item} — da abbinare a: {oitem} 👌 {price}"),
    "pt": ("{Item} com botões {ocol_p}, {price}", "{Item} — combina com: {oitem} 👌 {price}"),
    "pl": ("{Item}, guziki {ocol_p}. {price}", "{Item} + {oitem} = idealny zestaw 👌 {price}"),
    "tr": ("{Item}, {ocol} düğmeli. {price}", "{Item} + {oitem} kombini 👌 {price}"),
}

_VAGUE: dict[str, tuple[str, ...]] = {
    "en": (
        "New drop 🔥",
        "link in bio",
        "Sunday vibes ☀️",
        "Shop is open! Link in bio 🛍",
        "Guess what's coming 👀",
        "🔥🔥🔥",
        "Thank you for 2k! 💛",
    ),
    "ru": ("Новинки уже на сайте 🔥", "Ссылка в шапке профиля", "Кто узнал? 👀", "Скоро 🔥"),
    "uk": ("Нові надходження 🔥", "Посилання в профілі", "Скоро 👀"),
    "de": ("Neue Drops 🔥", "Link in Bio", "Bald im Shop 👀"),
    "fr": ("Nouvelle collection 🔥", "Lien en bio", "Bientôt 👀"),
    "es": ("Nueva colección 🔥", "Link en la bio", "Muy pronto 👀"),
    "it": ("Nuovi arrivi 🔥", "Link in bio", "Presto online 👀"),
    "pt": ("Novidades no site 🔥", "Link na bio", "Em breve 👀"),
    "pl": ("Nowa kolekcja 🔥", "Link w bio", "Już wkrótce 👀"),
    "tr": ("Yeni ürünler 🔥", "Link biyografide", "Çok yakında 👀"),
}

_GENERIC_TAGS: dict[str, tuple[str, ...]] = {
    "en": ("ootd", "slowfashion", "shopsmall", "newin"),
    "ru": ("новинка", "одежда", "стиль", "шоурум"),
    "uk": ("новинка", "одяг", "українськийбренд"),
    "de": ("mode", "neuheit", "fairfashion"),
    "fr": ("mode", "nouveautés", "madeinfrance"),
    "es": ("moda", "novedades", "tiendaonline"),
    "it": ("moda", "novità", "madeinitaly"),
    "pt": ("moda", "lançamento", "lojaonline"),
    "pl": ("moda", "nowość", "polskamarka"),
    "tr": ("moda", "yenisezon", "butik"),
}

_AND = {
    "en": "&",
    "ru": "и",
    "uk": "і",
    "de": "und",
    "fr": "et",
    "es": "y",
    "it": "e",
    "pt": "e",
    "pl": "i",
    "tr": "ve",
}

# Shopify: the option a store names for colour, and its product types (English, like most
# stores' admin settings; some leave it empty).
COLOUR_OPTION = {
    "en": "Color",
    "ru": "Цвет",
    "uk": "Колір",
    "de": "Farbe",
    "fr": "Couleur",
    "es": "Color",
    "it": "Colore",
    "pt": "Cor",
    "pl": "Kolor",
    "tr": "Renk",
}
PRODUCT_TYPES = {
    "T-Shirt": "T-Shirts",
    "Longsleeve": "Long Sleeves",
    "Pants": "Trousers",
    "Shoes": "Shoes",
    "Shirt": "Shirts",
    "Dress": "Dresses",
    "Outwear": "Outerwear",
    "Shorts": "Shorts",
    "Hat": "Hats",
    "Skirt": "Skirts",
    "Polo": "Polos",
    "Undershirt": "Tank Tops",
    "Blazer": "Blazers",
    "Hoodie": "Hoodies",
    "Body": "Bodysuits",
    "Top": "Tops",
    "Blouse": "Blouses",
}
_MATERIALS = {
    "en": ("100% cotton", "Linen blend", "Organic cotton jersey"),
    "ru": ("100% хлопок", "Лён с вискозой", "Трикотаж"),
    "uk": ("100% бавовна", "Льон", "Трикотаж"),
    "de": ("100 % Baumwolle", "Leinenmischung", "Bio-Baumwolle"),
    "fr": ("100 % coton", "Lin mélangé", "Coton bio"),
    "es": ("100% algodón", "Mezcla de lino", "Algodón orgánico"),
    "it": ("100% cotone", "Misto lino", "Cotone biologico"),
    "pt": ("100% algodão", "Linho misto", "Malha"),
    "pl": ("100% bawełna", "Len z wiskozą", "Dzianina"),
    "tr": ("%100 pamuk", "Keten karışımlı", "Penye"),
}


@dataclass
class PostWords:
    """The words of one emulated post, for every network's fields."""

    lang: str
    kind: str  # USEFUL, VAGUE or MIXED
    caption: str  # plain text with hashtags (Instagram, Bluesky; Mastodon's before HTML)
    alts: list[str]  # one alt text per photo ("" = none, as many shops leave it)
    price: str  # the amount as Shopify states it: "4500.00"
    title: str = ""  # Shopify
    product_type: str = ""
    tags: list[str] = field(default_factory=list)
    colour_option: str = ""  # the option's name ("" = the product has no colour option)
    colour_values: list[str] = field(default_factory=list)
    body_html: str = ""
    link: str = ""  # a product page the caption links to (Mastodon shows it as a card link)

    @property
    def hashtags(self) -> list[str]:
        return re.findall(r"#(\w+)", self.caption)


def shop_languages(handle: str) -> tuple[str, str]:
    if handle in SHOP_LANGUAGES:
        return SHOP_LANGUAGES[handle]
    h = sum(map(ord, handle))
    return LANGUAGES[h % len(LANGUAGES)], LANGUAGES[(h // 7 + 1) % len(LANGUAGES)]


def price(rng: random.Random, lang: str) -> tuple[str, str]:
    """(as written in a caption, as Shopify states the amount)."""
    if lang == "en":
        n = rng.randrange(19, 120)
        return rng.choice((f"${n}", f"${n}.00", f"£{n - 4}")), f"{n}.00"
    if lang == "ru":
        n = rng.randrange(15, 120) * 100
        return rng.choice((f"{_group(n, ' ')} ₽", f"{n} руб.", f"{_group(n, ' ')}₽")), f"{n}.00"
    if lang == "uk":
        n = rng.randrange(8, 80) * 50
        return rng.choice((f"{_group(n, ' ')} грн", f"{n}₴", f"{n} грн")), f"{n}.00"
    if lang == "pt":
        n = rng.randrange(59, 399)
        return f"R$ {n},90", f"{n}.90"
    if lang == "pl":
        n = rng.randrange(49, 1500)
        forms = (f"{n} zł", f"{_group(n, '.')},00 zł", f"{_group(n, ' ')},00 zł", f"{n},99 zł")
        return rng.choice(forms), f"{n}.00"
    if lang == "tr":
        n = rng.randrange(299, 3000)
        return rng.choice((f"₺{_group(n, '.')}", f"{_group(n, '.')} TL", f"{n} TL")), f"{n}.00"
    n = rng.randrange(19, 150)  # the euro countries
    forms = {
        "de": (f"{n} €", f"{n},00 €", f"{n}€"),
        "fr": (f"{n},00 €", f"{n} €"),
        "es": (f"{n}€", f"{n},00 €"),
        "it": (f"€ {n}", f"{n}€", f"{n},00€"),
    }[lang]
    return rng.choice(forms), f"{n}.00"


def _group(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def phrase(lang: str, category: str, colour: str, rng: random.Random) -> tuple[str, str]:
    """(colour + garment as the language puts them, the garment alone): "robe noire"."""
    gender, noun = rng.choice(
        nouns(lang, category)[:2] if rng.random() < 0.8 else nouns(lang, category)
    )
    adj = adjective(lang, colour, gender, alt=0 if rng.random() < 0.75 else rng.randrange(3))
    if lang in ("fr", "es", "it", "pt"):
        return f"{noun} {adj}", noun
    return f"{adj} {noun}", noun


def _hashtag(words: str) -> str:
    return "#" + re.sub(r"[\s\-–'.]+", "", words.lower())


def _other_colour(rng: random.Random, not_: str) -> str:
    return rng.choice([c for c in COLOURS if c not in (not_, "multicolour")])


def write(
    rng: random.Random, handle: str, labels: list[tuple[str, str]], *, kind: str = ""
) -> PostWords:
    """The words of a post whose photos have these (category, colour) labels.

    A category outside the taxonomy ("Not sure", "Other": the labeller could not name it)
    gets no garment word; a post with none named gets vague words."""
    first, second = shop_languages(handle)
    lang = first if rng.random() < 0.65 else second
    amount_text, amount = price(rng, lang)
    known = [(c, col) for c, col in labels if c in CATEGORIES]
    if not kind:
        r = rng.random()
        kind = VAGUE if r < VAGUE_SHARE else MIXED if r < VAGUE_SHARE + MIXED_SHARE else USEFUL
    if not known:
        kind = VAGUE
    items = []  # one phrase per distinct garment, in photo order
    for cat, col in dict.fromkeys(known):
        items.append((cat, col, *phrase(lang, cat, col, rng)))
    tags = list(rng.sample(_GENERIC_TAGS[lang], 2))
    emoji = rng.choice(EMOJI)
    if kind == VAGUE:
        caption = rng.choice(_VAGUE[lang])
        if rng.random() < 0.5:
            caption += "\n" + " ".join("#" + t for t in tags)
        alts = ["" for _ in labels]
    else:
        cat, col, item, noun = items[0]
        joined = f" {_AND[lang]} ".join(i[2] for i in items[:3])
        ocol = _other_colour(rng, col)
        other_cat = rng.choice([c for c in CATEGORIES if c not in {i[0] for i in items}])
        fields = {
            "item": joined,
            "Item": _cap(joined),
            "noun": noun,
            "Noun": _cap(noun),
            "incol": in_colour(lang, col),
            "price": amount_text,
            "emoji": emoji,
            "ocol": plural_adjective(lang, ocol),
            "ocol_p": plural_adjective(lang, ocol),
            "oin": in_colour(lang, ocol),
            "oitem": phrase(lang, other_cat, ocol, rng)[0],
        }
        pool = _MIXED[lang] if kind == MIXED else _USEFUL[lang]
        if kind == MIXED and cat not in BUTTONED:
            pool = tuple(t for t in pool if "{oitem}" in t)
        if len(items) > 1:  # "{noun} {incol}" would name only the first garment
            pool = tuple(t for t in pool if "{noun}" not in t.lower()) or pool
        caption = rng.choice(pool).format(**fields)
        hashtags = (
            [_hashtag(noun)]
            + ([_hashtag(item)] if rng.random() < 0.5 else [])
            + ["#" + t for t in tags]
        )
        caption += "\n" + " ".join(dict.fromkeys(hashtags))
        alts = [
            _cap(phrase(lang, c, k, rng)[0]) if c in CATEGORIES and rng.random() < 0.5 else ""
            for c, k in labels
        ]
    words = PostWords(lang, kind, caption, alts, amount)
    _shopify(words, rng, items, handle)
    return words


def _shopify(words: PostWords, rng: random.Random, items: list[Any], handle: str) -> None:
    lang = words.lang
    if not items:
        words.title = rng.choice(("Mystery Box", "Gift Card", "Sample Sale Piece"))
        words.body_html = "<p>Surprise! &#x1F381; One piece, chosen for you.</p>"
        return
    cat, col, item, noun = items[0]
    model = rng.choice(("Lina", "Mira", "Oslo", "Nora", "Vega", "Ida", "Roma"))
    if words.kind == VAGUE:  # a name only: the colour, if anywhere, is in the options
        words.title = f"{model} {_cap(noun)}" if rng.random() < 0.5 else f"«{model}»"
    elif lang == "en" and rng.random() < 0.6:
        words.title = " ".join(_cap(w) for w in item.split())  # "Beige Blouse"
    elif lang == "en":
        words.title = f"{model} " + " ".join(_cap(w) for w in noun.split())
    else:
        words.title = _cap(item) if rng.random() < 0.6 else f"{_cap(noun)} «{model}»"
    r = rng.random()
    words.product_type = PRODUCT_TYPES[cat] if r < 0.55 else _cap(noun) if r < 0.8 else ""
    words.tags = [noun.lower(), "new"] + ([colour_name(lang, col).lower()] if r < 0.7 else [])
    if rng.random() < 0.85:
        words.colour_option = (
            COLOUR_OPTION[lang] if lang != "en" else rng.choice(("Color", "Colour"))
        )
        values = [colour_name(lang, col)]
        if words.kind == MIXED:  # sold in two colours; the photo shows the first
            values.append(colour_name(lang, _other_colour(rng, col)))
        words.colour_values = values
    material = rng.choice(_MATERIALS[lang])
    text = words.caption.split("\n")[0] if words.kind != VAGUE else ""
    body = [f"<p>{_entities(text)}</p>"] if text else []
    body.append(f"<ul><li>{_entities(material)}</li><li>S&nbsp;&ndash;&nbsp;L</li></ul>")
    if rng.random() < 0.4:
        body.append("<p><strong>Care:</strong> 30&deg;C &amp; no tumble dry</p>")
    words.body_html = "\n".join(body)
    if rng.random() < 0.4:  # some captions link to the product page
        host = handle.split(".")[0].replace("_", "-")
        words.link = f"https://{host}.example/products/{model.lower()}-{cat.lower()}-{col}"


def _entities(text: str) -> str:
    """HTML as shop editors save it: named entities for dashes, quotes and spaces."""
    out = html.escape(text, quote=True)
    for ch, ent in (
        ("—", "&mdash;"),
        ("–", "&ndash;"),
        ("«", "&laquo;"),
        ("»", "&raquo;"),
        ("\u00a0", "&nbsp;"),
        ("’", "&rsquo;"),
    ):
        out = out.replace(ch, ent)
    return out


def mastodon_html(caption: str, base_url: str, link: str = "") -> str:
    """A caption as Mastodon renders a status: paragraphs, <br />, hashtag links with <span>,
    and a link whose scheme and tail sit in `invisible` spans."""
    paragraphs = []
    for block in caption.split("\n\n"):
        lines = []
        for line in block.split("\n"):
            esc = html.escape(line, quote=False).replace('"', "&quot;").replace("'", "&#39;")
            lines.append(
                re.sub(
                    r"#(\w+)",
                    lambda m: (
                        f'<a href="{base_url}/tags/{m.group(1).lower()}" '
                        f'class="mention hashtag" rel="tag">#<span>{m.group(1)}</span></a>'
                    ),
                    esc,
                )
            )
        paragraphs.append("<br />".join(lines))
    if link:
        scheme, rest = link.split("://", 1)
        shown, tail = rest[:30], rest[30:]
        paragraphs.append(
            f'<a href="{html.escape(link)}" target="_blank" rel="nofollow noopener noreferrer" '
            f'translate="no"><span class="invisible">{scheme}://</span>'
            f'<span class="{"ellipsis" if tail else ""}">{html.escape(shown)}</span>'
            f'<span class="invisible">{html.escape(tail)}</span></a>'
        )
    return "".join(f"<p>{p}</p>" for p in paragraphs)
