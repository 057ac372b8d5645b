"""classifier.text.extract on real-looking shop texts: the rules that decide a label or none."""

from __future__ import annotations

import subprocess
import sys

import pytest

from catalog.evidence import PostText
from classifier.text import extract


def best(text: str, head: str, **fields: object) -> tuple[str, float] | None:
    post = PostText(caption=text, **fields) if text else PostText(**fields)  # type: ignore[arg-type]
    return extract(post).best(head)


def label(text: str, head: str, floor: float = 0.5, **fields: object) -> str | None:
    """The label the words name with at least `floor` strength (None otherwise)."""
    b = best(text, head, **fields)
    return b[0] if b and b[1] >= floor else None


@pytest.mark.parametrize(
    ("text", "category", "colour"),
    [
        ("Beige Blouse", "Blouse", "beige"),
        ("Peter England Men Party Blue Jeans", "Pants", "blue"),
        ("New in: blouse in beige, sizes S–XL", "Blouse", "beige"),
        ("Красивое платье чёрное, размеры S-M", "Dress", "black"),
        ("Новинка! Бежевая блузка из хлопка", "Blouse", "beige"),
        ("Navy blue linen shirt", "Shirt", "blue"),
        ("Burgundy sweater dress", "Dress", "red"),
        ("Grey Melange Sweatshirt", "Hoodie", "grey"),
        ("Fila Men Black Flip Flops", "Shoes", "black"),
    ],
)
def test_plain_product_and_colour(text: str, category: str, colour: str) -> None:
    assert label(text, "category") == category
    assert label(text, "colour") == colour


def test_several_products_give_no_category() -> None:
    for text in ("Dress and jacket, both size M", "Shirt + trousers set", "Платье и куртка"):
        ev = extract(PostText.caption_only(text))
        assert "category" in ev.ambiguous, text
        assert ev.best("category") is None


def test_colour_of_something_else_is_weak() -> None:
    assert label("Black buttons on a linen shirt", "colour") is None
    assert label("Shirt with white stripes", "colour") is None
    assert label("Beige blouse — goes with our white jeans", "colour") == "beige"
    assert label("Beige blouse — goes with our white jeans", "category") == "Blouse"
    assert label("Sneakers with a white sole", "colour") is None


def test_several_colours_abstain() -> None:
    ev = extract(PostText.caption_only("Black and white striped shirt"))
    assert "colour" in ev.ambiguous
    assert ev.best("category") == ("Shirt", 0.9)


def test_compound_head_names_the_product() -> None:
    assert label("Denim shirt dress", "category") == "Dress"
    assert label("Платье-рубашка в клетку", "category") == "Dress"


def test_shopify_options_are_the_strongest_colour() -> None:
    post = PostText(title="Linen Blouse", options=("Beige",), caption="Looks lovely with pink")
    ev = extract(post)
    assert ev.best("colour") == ("beige", 1.0)
    several = extract(PostText(title="Linen Blouse", options=("Black", "White", "Red")))
    assert "colour" in several.ambiguous


def test_products_outside_the_taxonomy_give_no_category() -> None:
    for text in ("Titan Women Silver Watch", "Baggit Women Brown Handbag", "Puma Pack of 3 Socks"):
        assert best(text, "category") is None, text


def test_empty_text() -> None:
    ev = extract(PostText())
    assert ev.clues == () and not ev.ambiguous


def test_no_tensorflow_import() -> None:
    code = (
        "import sys; from classifier.text import extract; from catalog.evidence import PostText;"
        "extract(PostText(caption='black dress'));"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(bad); "
        "sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
