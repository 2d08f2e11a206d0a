"""Text preprocessing: tokenize posts, fit a vocabulary, encode padded ids, split train/validation."""

import collections
import dataclasses
import math
import numbers

import keras
import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import train_test_split

# Runs of letters, with no `\b` around them: scikit-learn's default-style
# `\b...\b` would drop "abc123" entirely, while the study wants "abc" kept and
# only the digits removed. `[^\W\d_]` is "a word character that is neither a
# digit nor an underscore", i.e. a letter in any alphabet ("café" stays whole).
_WORD_PATTERN = r"[^\W\d_]+"
_analyze = CountVectorizer(lowercase=True, stop_words="english", token_pattern=_WORD_PATTERN).build_analyzer()
_PADDING_SIDES = ("pre", "post")


def tokenize(text):
    """Splits a post into lower-case words, dropping numbers, punctuation and stop words.

    Words are runs of letters, so "don't" gives "don" and "t", "abc123" gives
    "abc", and "foo_bar" gives "foo" and "bar". English stop words are
    scikit-learn's `ENGLISH_STOP_WORDS`. Single letters are kept unless they
    are stop words ("a", "i"), as Keras's old `Tokenizer` kept them.

    Args:
        text: String. One post.

    Returns:
        List of words, in the order they appear.

    Example:

    >>> tokenize("The CAFÉ opened in 1993, didn't it?")
    ['café', 'opened', 'didn', 't']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; received text of type {type(text).__name__}")
    return _analyze(text)


def fit_vocabulary(texts, max_words=20_000):
    """Maps the `max_words` most frequent words of `texts` to ids 1..max_words.

    Args:
        texts: Iterable of strings, tokenized with `tokenize`.
        max_words: Positive int, default `20_000`. Number of words kept.

    Returns:
        Dict from word to id; id 1 is the most frequent word, ties are broken
        alphabetically so the result does not depend on the order of `texts`.
        Id 0 is left for padding.
    """
    _check_positive_int("max_words", max_words)
    return _vocabulary_from_tokens([tokenize(text) for text in texts], max_words)


def texts_to_ids(texts, vocabulary, maxlen=1_100, padding="pre", truncating="pre"):
    """Encodes posts as fixed-length rows of word ids, 0 being padding.

    Words missing from `vocabulary` are dropped, as Keras's `Tokenizer` did
    without an `oov_token`; a post with no known word becomes a row of zeros.

    Args:
        texts: Iterable of strings.
        vocabulary: Dict from word to id in `1..len(vocabulary)`, such as
            `fit_vocabulary` returns.
        maxlen: Positive int, default `1_100`. Length of every row.
        padding: `"pre"` (default) or `"post"`: where zeros are added to
            short posts, as in `keras.utils.pad_sequences`.
        truncating: `"pre"` (default) or `"post"`: where ids are cut from
            long posts (`"pre"` keeps the end of the post).

    Returns:
        int32 array of shape `(len(texts), maxlen)`.

    Example:

    >>> texts_to_ids(["bird cat", "cat cat dog bird"], {"cat": 1, "bird": 2}, maxlen=3)
    array([[0, 2, 1],
           [1, 1, 2]], dtype=int32)
    """
    _check_positive_int("maxlen", maxlen)
    _check_side("padding", padding)
    _check_side("truncating", truncating)
    return _ids_from_tokens([tokenize(text) for text in texts], vocabulary, maxlen, padding, truncating)


@dataclasses.dataclass(frozen=True, eq=False)
class EncodedSplit:
    """Padded id matrices and labels for training and validation.

    Args:
        x_train: int32 array `(num_train, maxlen)` of word ids, 0 = padding.
        y_train: int64 array `(num_train,)` of class ids.
        x_val: int32 array `(num_val, maxlen)`.
        y_val: int64 array `(num_val,)`.
        vocabulary: Dict from word to id, fitted on the training posts only.
        label_names: Class names; `y_*` index into it.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    vocabulary: dict
    label_names: list

    @property
    def vocab_size(self):
        """Number of distinct ids, padding included: the Embedding's `input_dim`."""
        return len(self.vocabulary) + 1


def encode_newsgroups(
    newsgroups,
    *,
    vocab_size=20_000,
    maxlen=1_100,
    validation_fraction=0.2,
    split_seed=0,
    max_docs=None,
    padding="pre",
):
    """Splits posts into training and validation parts and encodes both as padded ids.

    The split is stratified by label whenever every class can land on both
    sides. The vocabulary is fitted on the training posts only, so validation
    words never seen in training are dropped as out-of-vocabulary. Long posts
    keep their last `maxlen` ids (`truncating="pre"`).

    Args:
        newsgroups: A `padzero.data.Newsgroups` (or anything with `texts`,
            `labels` and `label_names`).
        vocab_size: Positive int, default `20_000`. Words kept in the
            vocabulary; the result's `vocab_size` adds one for padding.
        maxlen: Positive int, default `1_100`. Length of every row.
        validation_fraction: Float in (0, 1), default `0.2`. Share of the
            posts held out for validation.
        split_seed: Int, default `0`. Seeds the subsample and the split.
        max_docs: Positive int or `None` (default, all posts). Number of
            posts drawn (stratified) before splitting; values above the
            number of posts use them all.
        padding: `"pre"` (default) or `"post"`, as in `texts_to_ids`.

    Returns:
        An `EncodedSplit`.
    """
    _check_positive_int("vocab_size", vocab_size)
    _check_positive_int("maxlen", maxlen)
    if max_docs is not None:
        _check_positive_int("max_docs", max_docs)
    _check_side("padding", padding)
    if isinstance(validation_fraction, bool) or not (
        isinstance(validation_fraction, numbers.Real) and 0 < validation_fraction < 1
    ):
        raise ValueError(
            "validation_fraction must be a float strictly between 0 and 1; "
            f"received validation_fraction={validation_fraction!r}"
        )
    labels = np.asarray(newsgroups.labels, dtype=np.int64)
    indices = np.arange(len(newsgroups.texts))
    if max_docs is not None and max_docs < len(indices):
        indices, _ = _split(indices, labels, num_held_out=len(indices) - max_docs, seed=split_seed)
    num_val = math.ceil(validation_fraction * len(indices))  # how train_test_split rounds
    if not 0 < num_val < len(indices):
        raise ValueError(
            f"validation_fraction={validation_fraction} of {len(indices)} posts leaves an empty "
            "training or validation part; use more posts (max_docs) or another fraction"
        )
    train_indices, val_indices = _split(indices, labels, num_held_out=num_val, seed=split_seed)

    train_tokens = [tokenize(newsgroups.texts[index]) for index in train_indices]
    val_tokens = [tokenize(newsgroups.texts[index]) for index in val_indices]
    vocabulary = _vocabulary_from_tokens(train_tokens, vocab_size)
    return EncodedSplit(
        x_train=_ids_from_tokens(train_tokens, vocabulary, maxlen, padding, "pre"),
        y_train=labels[train_indices],
        x_val=_ids_from_tokens(val_tokens, vocabulary, maxlen, padding, "pre"),
        y_val=labels[val_indices],
        vocabulary=vocabulary,
        label_names=list(newsgroups.label_names),
    )


def _split(indices, labels, num_held_out, seed):
    """`train_test_split` of `indices`, stratified when every class fits on both sides."""
    class_counts = np.unique(labels[indices], return_counts=True)[1]
    num_kept = len(indices) - num_held_out
    can_stratify = class_counts.min() >= 2 and min(num_kept, num_held_out) >= len(class_counts)
    return train_test_split(
        indices,
        test_size=num_held_out,
        random_state=seed,
        stratify=labels[indices] if can_stratify else None,
    )


def _vocabulary_from_tokens(token_lists, max_words):
    counts = collections.Counter()
    for tokens in token_lists:
        counts.update(tokens)
    most_frequent = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:max_words]
    return {word: word_id for word_id, (word, _) in enumerate(most_frequent, start=1)}


def _ids_from_tokens(token_lists, vocabulary, maxlen, padding, truncating):
    sequences = [[vocabulary[word] for word in tokens if word in vocabulary] for tokens in token_lists]
    return keras.utils.pad_sequences(
        sequences, maxlen=maxlen, dtype="int32", padding=padding, truncating=truncating, value=0
    )


def _check_positive_int(name, value):
    # bool is an int subclass, but `maxlen=True` is always a mistake.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int; received {name}={value!r}")


def _check_side(name, value):
    if value not in _PADDING_SIDES:
        raise ValueError(f"{name} must be 'pre' or 'post'; received {name}={value!r}")
