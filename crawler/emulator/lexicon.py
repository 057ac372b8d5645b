"""How small shops name their garments and colours in ten languages, for the emulator's posts.

Nouns carry a grammatical gender ("m", "f", "n"; "p" plural in Slavic and German; "mp"/"fp"
plural masculine/feminine in Romance languages) so colour adjectives agree with them, as in
"чёрное платье", "czarna sukienka", "schwarzes Kleid", "robe noire".
"""

from __future__ import annotations

from catalog.taxonomy import CATEGORIES, COLOURS

LANGUAGES = ("en", "ru", "uk", "de", "fr", "es", "it", "pt", "pl", "tr")

# category → "gender:word" alternatives, the commonest first.
_NOUNS: dict[str, dict[str, str]] = {
    "en": {
        "T-Shirt": "t-shirt|tee|graphic tee",
        "Longsleeve": "long sleeve tee|longsleeve|long-sleeve top",
        "Pants": "trousers|pants|jeans|wide-leg pants",
        "Shoes": "sneakers|shoes|loafers|boots",
        "Shirt": "shirt|button-down shirt|oxford shirt",
        "Dress": "dress|midi dress|slip dress",
        "Outwear": "jacket|coat|parka|puffer jacket",
        "Shorts": "shorts|denim shorts",
        "Hat": "cap|hat|beanie|bucket hat",
        "Skirt": "skirt|midi skirt|mini skirt",
        "Polo": "polo shirt|polo",
        "Undershirt": "tank top|vest top|singlet",
        "Blazer": "blazer",
        "Hoodie": "hoodie|hooded sweatshirt",
        "Body": "bodysuit|body",
        "Top": "top|crop top|cami top",
        "Blouse": "blouse",
    },
    "ru": {
        "T-Shirt": "f:футболка",
        "Longsleeve": "m:лонгслив",
        "Pants": "p:брюки|p:джинсы|p:штаны",
        "Shoes": "p:кроссовки|p:туфли|p:ботинки",
        "Shirt": "f:рубашка",
        "Dress": "n:платье|m:сарафан",
        "Outwear": "f:куртка|n:пальто|m:пуховик|m:тренч",
        "Shorts": "p:шорты",
        "Hat": "f:кепка|f:шапка|f:панама|f:шляпа",
        "Skirt": "f:юбка",
        "Polo": "n:поло|f:рубашка-поло",
        "Undershirt": "f:майка",
        "Blazer": "m:пиджак|m:жакет|m:блейзер",
        "Hoodie": "n:худи|f:толстовка",
        "Body": "n:боди",
        "Top": "m:топ",
        "Blouse": "f:блузка|f:блуза",
    },
    "uk": {
        "T-Shirt": "f:футболка",
        "Longsleeve": "m:лонгслів",
        "Pants": "p:штани|p:джинси|p:брюки",
        "Shoes": "p:кросівки|p:туфлі|p:черевики",
        "Shirt": "f:сорочка",
        "Dress": "f:сукня|n:плаття",
        "Outwear": "f:куртка|n:пальто|m:пуховик",
        "Shorts": "p:шорти",
        "Hat": "f:кепка|f:шапка|m:капелюх|f:панама",
        "Skirt": "f:спідниця",
        "Polo": "n:поло",
        "Undershirt": "f:майка",
        "Blazer": "m:піджак|m:жакет|m:блейзер",
        "Hoodie": "n:худі",
        "Body": "n:боді",
        "Top": "m:топ",
        "Blouse": "f:блузка|f:блуза",
    },
    "de": {
        "T-Shirt": "n:T-Shirt",
        "Longsleeve": "n:Longsleeve|n:Langarmshirt",
        "Pants": "f:Hose|f:Jeans|f:Stoffhose",
        "Shoes": "p:Schuhe|p:Sneaker|p:Stiefel",
        "Shirt": "n:Hemd",
        "Dress": "n:Kleid|n:Sommerkleid",
        "Outwear": "f:Jacke|m:Mantel|m:Parka",
        "Shorts": "p:Shorts",
        "Hat": "f:Mütze|m:Hut|f:Cap|f:Beanie",
        "Skirt": "m:Rock|m:Midirock",
        "Polo": "n:Poloshirt",
        "Undershirt": "n:Unterhemd|n:Tanktop",
        "Blazer": "m:Blazer",
        "Hoodie": "m:Hoodie|m:Kapuzenpullover",
        "Body": "m:Body",
        "Top": "n:Top",
        "Blouse": "f:Bluse",
    },
    "fr": {
        "T-Shirt": "m:t-shirt|m:tee-shirt",
        "Longsleeve": "m:t-shirt à manches longues",
        "Pants": "m:pantalon|m:jean",
        "Shoes": "fp:chaussures|fp:baskets|fp:bottines",
        "Shirt": "f:chemise",
        "Dress": "f:robe",
        "Outwear": "f:veste|m:manteau|f:doudoune",
        "Shorts": "m:short",
        "Hat": "m:chapeau|m:bonnet|f:casquette",
        "Skirt": "f:jupe",
        "Polo": "m:polo",
        "Undershirt": "m:débardeur",
        "Blazer": "m:blazer",
        "Hoodie": "m:sweat à capuche|m:hoodie",
        "Body": "m:body",
        "Top": "m:top|m:haut",
        "Blouse": "f:blouse|m:chemisier",
    },
    "es": {
        "T-Shirt": "f:camiseta",
        "Longsleeve": "f:camiseta de manga larga",
        "Pants": "m:pantalón|mp:vaqueros|mp:jeans",
        "Shoes": "fp:zapatillas|mp:zapatos|fp:botas",
        "Shirt": "f:camisa",
        "Dress": "m:vestido",
        "Outwear": "f:chaqueta|m:abrigo|f:cazadora",
        "Shorts": "mp:shorts|m:pantalón corto",
        "Hat": "m:sombrero|f:gorra|m:gorro",
        "Skirt": "f:falda",
        "Polo": "m:polo",
        "Undershirt": "f:camiseta de tirantes",
        "Blazer": "f:americana|m:blazer",
        "Hoodie": "f:sudadera con capucha|f:sudadera",
        "Body": "m:body",
        "Top": "m:top",
        "Blouse": "f:blusa",
    },
    "it": {
        "T-Shirt": "f:t-shirt|f:maglietta",
        "Longsleeve": "f:maglia a maniche lunghe",
        "Pants": "mp:pantaloni|mp:jeans",
        "Shoes": "fp:scarpe|fp:sneakers|mp:stivali",
        "Shirt": "f:camicia",
        "Dress": "m:vestito|m:abito",
        "Outwear": "f:giacca|m:cappotto|m:piumino",
        "Shorts": "mp:shorts|mp:pantaloncini",
        "Hat": "m:cappello|m:berretto|m:cappellino",
        "Skirt": "f:gonna",
        "Polo": "f:polo",
        "Undershirt": "f:canotta|f:canottiera",
        "Blazer": "m:blazer",
        "Hoodie": "f:felpa con cappuccio|f:felpa",
        "Body": "m:body",
        "Top": "m:top",
        "Blouse": "f:blusa|f:camicetta",
    },
    "pt": {
        "T-Shirt": "f:camiseta",
        "Longsleeve": "f:camiseta manga longa",
        "Pants": "f:calça|f:calça jeans",
        "Shoes": "mp:tênis|mp:sapatos|fp:botas",
        "Shirt": "f:camisa",
        "Dress": "m:vestido",
        "Outwear": "f:jaqueta|m:casaco|f:parka",
        "Shorts": "m:short|f:bermuda",
        "Hat": "m:chapéu|m:boné|m:gorro",
        "Skirt": "f:saia",
        "Polo": "f:camisa polo",
        "Undershirt": "f:regata",
        "Blazer": "m:blazer",
        "Hoodie": "m:moletom com capuz|m:moletom",
        "Body": "m:body",
        "Top": "m:top|m:cropped",
        "Blouse": "f:blusa",
    },
    "pl": {
        "T-Shirt": "m:t-shirt|f:koszulka",
        "Longsleeve": "m:longsleeve|f:koszulka z długim rękawem",
        "Pants": "p:spodnie|p:jeansy",
        "Shoes": "p:buty|p:sneakersy|p:trampki",
        "Shirt": "f:koszula",
        "Dress": "f:sukienka",
        "Outwear": "f:kurtka|m:płaszcz|f:parka",
        "Shorts": "p:szorty|p:spodenki",
        "Hat": "f:czapka|m:kapelusz",
        "Skirt": "f:spódnica|f:spódniczka",
        "Polo": "f:koszulka polo",
        "Undershirt": "m:podkoszulek",
        "Blazer": "f:marynarka|m:blezer",
        "Hoodie": "f:bluza z kapturem|f:bluza",
        "Body": "n:body",
        "Top": "m:top",
        "Blouse": "f:bluzka",
    },
    "tr": {
        "T-Shirt": "tişört",
        "Longsleeve": "uzun kollu tişört",
        "Pants": "pantolon|jean",
        "Shoes": "ayakkabı|spor ayakkabı|bot",
        "Shirt": "gömlek",
        "Dress": "elbise",
        "Outwear": "mont|kaban",
        "Shorts": "şort",
        "Hat": "şapka|bere",
        "Skirt": "etek",
        "Polo": "polo yaka tişört",
        "Undershirt": "atlet",
        "Blazer": "blazer ceket",
        "Hoodie": "kapüşonlu sweatshirt|hoodie",
        "Body": "body",
        "Top": "crop top",
        "Blouse": "bluz",
    },
}

# colour → the forms a language needs. Slavic: "stem~class" (class picks the endings);
# German: the base (endings added; "=" marks an indeclinable one); Romance: "m|f|mp|fp";
# English and Turkish: alternatives separated by "|", the commonest first.
_COLOURS: dict[str, dict[str, str]] = {
    "en": {
        "black": "black",
        "white": "white|off-white",
        "grey": "grey|gray|charcoal",
        "beige": "beige|camel|sand",
        "brown": "brown|chocolate",
        "red": "red|burgundy",
        "pink": "pink|fuchsia",
        "orange": "orange",
        "yellow": "yellow|mustard",
        "green": "green|olive",
        "blue": "blue|navy|denim blue",
        "purple": "purple|lilac",
        "multicolour": "multicolour|multicolor|rainbow",
    },
    "ru": {
        "black": "чёрн~h",
        "white": "бел~h",
        "grey": "сер~h",
        "beige": "бежев~h",
        "brown": "коричнев~h",
        "red": "красн~h",
        "pink": "розов~h",
        "orange": "оранжев~h",
        "yellow": "жёлт~h",
        "green": "зелён~h",
        "blue": "син~s",
        "purple": "фиолетов~h",
        "multicolour": "разноцветн~h",
    },
    "uk": {
        "black": "чорн~h",
        "white": "біл~h",
        "grey": "сір~h",
        "beige": "бежев~h",
        "brown": "коричнев~h",
        "red": "червон~h",
        "pink": "рожев~h",
        "orange": "помаранчев~h",
        "yellow": "жовт~h",
        "green": "зелен~h",
        "blue": "син~s",
        "purple": "фіолетов~h",
        "multicolour": "різнокольоров~h",
    },
    "pl": {
        "black": "czarn~h",
        "white": "biał~h",
        "grey": "szar~h",
        "beige": "beżow~h",
        "brown": "brązow~h",
        "red": "czerwon~h",
        "pink": "różow~h",
        "orange": "pomarańczow~h",
        "yellow": "żółt~h",
        "green": "zielon~h",
        "blue": "niebiesk~k",
        "purple": "fioletow~h",
        "multicolour": "kolorow~h",
    },
    "de": {
        "black": "schwarz",
        "white": "weiß",
        "grey": "grau",
        "beige": "=beige",
        "brown": "braun",
        "red": "rot",
        "pink": "=rosa",
        "orange": "=orange",
        "yellow": "gelb",
        "green": "grün",
        "blue": "blau",
        "purple": "=lila",
        "multicolour": "bunt",
    },
    "fr": {
        "black": "noir|noire|noirs|noires",
        "white": "blanc|blanche|blancs|blanches",
        "grey": "gris|grise|gris|grises",
        "beige": "beige|beige|beiges|beiges",
        "brown": "marron|marron|marron|marron",
        "red": "rouge|rouge|rouges|rouges",
        "pink": "rose|rose|roses|roses",
        "orange": "orange|orange|orange|orange",
        "yellow": "jaune|jaune|jaunes|jaunes",
        "green": "vert|verte|verts|vertes",
        "blue": "bleu|bleue|bleus|bleues",
        "purple": "violet|violette|violets|violettes",
        "multicolour": "multicolore|multicolore|multicolores|multicolores",
    },
    "es": {
        "black": "negro|negra|negros|negras",
        "white": "blanco|blanca|blancos|blancas",
        "grey": "gris|gris|grises|grises",
        "beige": "beige|beige|beige|beige",
        "brown": "marrón|marrón|marrones|marrones",
        "red": "rojo|roja|rojos|rojas",
        "pink": "rosa|rosa|rosas|rosas",
        "orange": "naranja|naranja|naranjas|naranjas",
        "yellow": "amarillo|amarilla|amarillos|amarillas",
        "green": "verde|verde|verdes|verdes",
        "blue": "azul|azul|azules|azules",
        "purple": "morado|morada|morados|moradas",
        "multicolour": "multicolor|multicolor|multicolores|multicolores",
    },
    "it": {
        "black": "nero|nera|neri|nere",
        "white": "bianco|bianca|bianchi|bianche",
        "grey": "grigio|grigia|grigi|grigie",
        "beige": "beige|beige|beige|beige",
        "brown": "marrone|marrone|marroni|marroni",
        "red": "rosso|rossa|rossi|rosse",
        "pink": "rosa|rosa|rosa|rosa",
        "orange": "arancione|arancione|arancioni|arancioni",
        "yellow": "giallo|gialla|gialli|gialle",
        "green": "verde|verde|verdi|verdi",
        "blue": "blu|blu|blu|blu",
        "purple": "viola|viola|viola|viola",
        "multicolour": "multicolore|multicolore|multicolori|multicolori",
    },
    "pt": {
        "black": "preto|preta|pretos|pretas",
        "white": "branco|branca|brancos|brancas",
        "grey": "cinza|cinza|cinza|cinza",
        "beige": "bege|bege|bege|bege",
        "brown": "marrom|marrom|marrons|marrons",
        "red": "vermelho|vermelha|vermelhos|vermelhas",
        "pink": "rosa|rosa|rosa|rosa",
        "orange": "laranja|laranja|laranja|laranja",
        "yellow": "amarelo|amarela|amarelos|amarelas",
        "green": "verde|verde|verdes|verdes",
        "blue": "azul|azul|azuis|azuis",
        "purple": "roxo|roxa|roxos|roxas",
        "multicolour": "colorido|colorida|coloridos|coloridas",
    },
    "tr": {
        "black": "siyah",
        "white": "beyaz",
        "grey": "gri",
        "beige": "bej",
        "brown": "kahverengi",
        "red": "kırmızı",
        "pink": "pembe",
        "orange": "turuncu",
        "yellow": "sarı",
        "green": "yeşil|haki yeşil",
        "blue": "mavi|lacivert",
        "purple": "mor",
        "multicolour": "çok renkli|rengarenk",
    },
}

# Slavic adjective endings by class: nominative m, f, n, plural; then the masculine
# locative used in "в чёрном цвете" / "у чорному кольорі" / "w kolorze czarnym".
_SLAVIC = {
    "ru": {"h": ("ый", "ая", "ое", "ые", "ом"), "s": ("ий", "яя", "ее", "ие", "ем")},
    "uk": {"h": ("ий", "а", "е", "і", "ому"), "s": ("ій", "я", "є", "і", "ьому")},
    "pl": {"h": ("y", "a", "e", "e", "ym"), "k": ("i", "a", "ie", "ie", "im")},
}
_SLAVIC_GENDERS = ("m", "f", "n", "p")
_ROMANCE_GENDERS = ("m", "f", "mp", "fp")
_DE_ENDINGS = {"m": "er", "f": "e", "n": "es", "p": "e"}  # strong, no article: "schwarzes Kleid"


def nouns(lang: str, category: str) -> list[tuple[str, str]]:
    """(gender, word) alternatives for a category; gender "" where the language has none."""
    out = []
    for entry in _NOUNS[lang][category].split("|"):
        gender, _, word = entry.rpartition(":")
        out.append((gender, word))
    return out


def colour_words(lang: str, colour: str) -> list[str]:
    """Every surface form of a colour in a language (for tests and hashtags)."""
    spec = _COLOURS[lang][colour]
    if lang in _SLAVIC:
        stem, _, cls = spec.partition("~")
        return [stem + e for e in _SLAVIC[lang][cls]]
    if lang == "de":
        base = spec.lstrip("=")
        return [base] if spec.startswith("=") else [base + e for e in ("", "er", "e", "es", "en")]
    return spec.split("|")


def adjective(lang: str, colour: str, gender: str, alt: int = 0) -> str:
    """The colour agreeing with a noun of `gender` (nominative)."""
    spec = _COLOURS[lang][colour]
    if lang in _SLAVIC:
        stem, _, cls = spec.partition("~")
        return stem + _SLAVIC[lang][cls][_SLAVIC_GENDERS.index(gender or "m")]
    if lang == "de":
        return spec[1:] if spec.startswith("=") else spec + _DE_ENDINGS[gender or "n"]
    forms = spec.split("|")
    if lang in ("en", "tr"):
        return forms[alt % len(forms)]
    return forms[_ROMANCE_GENDERS.index(gender or "m")]


def colour_name(lang: str, colour: str) -> str:
    """The colour as a word on its own (a Shopify option value, a tag): "Schwarz", "Чёрный"."""
    if lang == "de":
        return _COLOURS[lang][colour].lstrip("=").capitalize()
    return adjective(lang, colour, "m").capitalize()


def in_colour(lang: str, colour: str) -> str:
    """ "in black" as a shop says it: "в чёрном цвете", "in Schwarz", "en noir"."""
    if colour == "multicolour":
        return {
            "en": "in multicolour",
            "ru": "мультиколор",
            "uk": "мультиколор",
            "de": "in Multicolor",
            "fr": "multicolore",
            "es": "multicolor",
            "it": "multicolore",
            "pt": "multicolorido",
            "pl": "w wielu kolorach",
            "tr": "çok renkli",
        }[lang]
    spec = _COLOURS[lang][colour]
    if lang in _SLAVIC:
        stem, _, cls = spec.partition("~")
        loc = stem + _SLAVIC[lang][cls][4]
        return {"ru": f"в {loc} цвете", "uk": f"у {loc} кольорі", "pl": f"w kolorze {loc}"}[lang]
    if lang == "de":
        return "in " + spec.lstrip("=").capitalize()
    forms = spec.split("|")
    if lang == "pt":
        return f"na cor {forms[1]}"  # "cor" is feminine: "na cor preta"
    if lang == "tr":
        return f"{forms[0]} renk"
    prefix = {"en": "in", "fr": "en", "es": "en", "it": "in"}[lang]
    return f"{prefix} {forms[0]}"


def plural_adjective(lang: str, colour: str) -> str:
    """The colour agreeing with a plural masculine noun ("buttons": пуговицы, boutons…)."""
    return adjective(lang, colour, {"fr": "mp", "es": "mp", "it": "mp", "pt": "mp"}.get(lang, "p"))


def category_words(category: str) -> set[str]:
    """Every noun for a category in every language, lower-cased (what a test looks for)."""
    return {w.lower() for lang in LANGUAGES for _, w in nouns(lang, category)}


assert all(set(v) == set(CATEGORIES) for v in _NOUNS.values())
assert all(set(v) == set(COLOURS) for v in _COLOURS.values())


def all_colour_words(colour: str) -> set[str]:
    """Every form of a colour in every language, lower-cased (what a test looks for)."""
    return {w.lower() for lang in LANGUAGES for w in colour_words(lang, colour)}
