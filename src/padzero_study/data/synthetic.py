"""A synthetic stand-in for 20 Newsgroups: posts of made-up words whose lengths are shaped like the real posts'
after preprocessing, each class with a few words of its own, so that a model can learn it. For smoke tests and
for the bench's post lengths: no download, any size."""

import numpy as np

from padzero_study import values
from padzero_study.data.newsgroups import Newsgroups

# Synthetic stand-in: sizes chosen so the length distribution resembles the
# real posts after preprocessing (median ~100 tokens, a tail past 1,100).
_BACKGROUND_WORDS = 5_000
_WORDS_PER_CLASS = 8
_CLASS_WORD_RATE = 0.05
_MEDIAN_LENGTH = 100
_LENGTH_SIGMA = 1.1
_SHORTEST_POST, _LONGEST_POST = 3, 20_000
# Generating takes about 7 KB per post at its peak (~180 tokens, each drawn as
# several 8-byte arrays), and encoding the posts for a study several times
# that, so 200,000 posts (ten times the real 18,846) stay within a few GB.
SYNTHETIC_MAX_DOCS = 200_000
SYNTHETIC_MAX_DOCS_HINT = "a synthetic post takes about 7 KB to generate and more to encode"


def synthetic_post_lengths(count, seed=0):
    """Post lengths in words shaped like 20 Newsgroups' after preprocessing.

    Lognormal with a median of 100 words; about 1.5% of posts are longer than
    1,100 words (1% of the real posts are), so padding dominates the id
    matrices as in the real data. Clipped to [3, 20,000].

    Args:
        count: Non-negative int. Number of lengths.
        seed: Int or `numpy.random.Generator`, default `0`. A generator is
            drawn from (and advanced); an int seeds a new one.

    Returns:
        int64 array of shape `(count,)`.

    Example:

    >>> lengths = synthetic_post_lengths(10_000)
    >>> bool(90 < np.median(lengths) < 110), bool(lengths.min() >= 3)
    (True, True)
    """
    rng = np.random.default_rng(seed)  # returns a Generator unchanged
    lengths = rng.lognormal(np.log(_MEDIAN_LENGTH), _LENGTH_SIGMA, count)
    return np.clip(np.round(lengths), _SHORTEST_POST, _LONGEST_POST).astype(np.int64)


def make_synthetic_newsgroups(num_docs=2000, num_classes=20, seed=0):
    """Generates a small, learnable stand-in for 20 Newsgroups in seconds.

    Posts are made-up letter-only words ("wabu", "kelo"): a shared background
    vocabulary with Zipf-like frequencies, plus a few words per class mixed in
    at a rate of 5%, so a bag-of-words model does well above chance. Lengths
    come from `synthetic_post_lengths` (median ~100 words, some longer than
    1,100), so padding dominates as in the real data.

    Args:
        num_docs: Positive int, default `2000`, at most `SYNTHETIC_MAX_DOCS`
            (200,000): generating takes about 7 KB per post, and encoding the
            posts for a study several times that.
        num_classes: Int >= 2, default `20`. Number of classes (balanced).
        seed: Int, default `0`. The same seed gives the same posts.

    Returns:
        A `Newsgroups` with `label_names` `["synthetic.0", "synthetic.1", ...]`.

    Raises:
        ValueError: for a `num_docs` that is not a positive int of at most
            200,000 (checked before anything is allocated), or a
            `num_classes` that is not an int >= 2.
    """
    # Imported here, not at the top: importing padzero imports Keras, which loading data does not need.
    from padzero.validation import check_positive_int

    check_positive_int("num_docs", num_docs, maximum=SYNTHETIC_MAX_DOCS, hint=SYNTHETIC_MAX_DOCS_HINT)
    if not values.is_int(num_classes) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2; received num_classes={num_classes!r}")
    rng = np.random.default_rng(seed)
    words = np.array(_made_up_words(_BACKGROUND_WORDS + num_classes * _WORDS_PER_CLASS, rng))
    labels = rng.permutation(np.arange(num_docs) % num_classes).astype(np.int64)
    lengths = synthetic_post_lengths(num_docs, rng)

    # Draw every token of every post at once, then cut them into posts.
    num_tokens = int(lengths.sum())
    zipf_weights = 1.0 / np.arange(1, _BACKGROUND_WORDS + 1)
    background = rng.choice(_BACKGROUND_WORDS, size=num_tokens, p=zipf_weights / zipf_weights.sum())
    token_labels = np.repeat(labels, lengths)
    class_words = _BACKGROUND_WORDS + token_labels * _WORDS_PER_CLASS
    class_words += rng.integers(_WORDS_PER_CLASS, size=num_tokens)
    token_ids = np.where(rng.random(num_tokens) < _CLASS_WORD_RATE, class_words, background)
    texts = [" ".join(words[post]) for post in np.split(token_ids, np.cumsum(lengths)[:-1])]
    source = f"synthetic stand-in (num_docs={num_docs}, num_classes={num_classes}, seed={seed})"
    return Newsgroups(texts, labels, [f"synthetic.{label}" for label in range(num_classes)], source)


def _made_up_words(count, rng):
    """`count` distinct 2-3 syllable words such as "wabu"; none is an English stop word."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    syllables = [consonant + vowel for consonant in "bdfgklmnprstvz" for vowel in "aeiou"]
    words, seen = [], set(ENGLISH_STOP_WORDS)
    while len(words) < count:
        picks_per_word = rng.integers(len(syllables), size=(count, 3))
        for picks, num_syllables in zip(picks_per_word, rng.integers(2, 4, size=count)):
            word = "".join(syllables[pick] for pick in picks[:num_syllables])
            if word not in seen:
                seen.add(word)
                words.append(word)
    return words[:count]
