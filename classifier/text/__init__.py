"""Text evidence: what a post's own words (title, tags, colour options, caption, hashtags) say
about its category and colour, from a lexicon kept as data (`lexicon/<lang>.toml`).

Pure Python (Snowball stemmers, lxml): importing this never loads TensorFlow.
"""

from classifier.text.extract import extract
from classifier.text.lexicon import LANGUAGES, Lexicon, load_lexicon

__all__ = ["LANGUAGES", "Lexicon", "extract", "load_lexicon"]
