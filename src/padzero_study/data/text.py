"""Text preprocessing: tokenize posts, split train/validation, fit a vocabulary, encode padded ids.

NumPy and scikit-learn only: the padding is `keras.utils.pad_sequences`'s
(tested against it), without importing Keras.
"""

import collections
import dataclasses
import math

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import train_test_split

from padzero_study import reference, values

# Runs of letters, with no `\b` around them: scikit-learn's default-style
# `\b...\b` would drop "abc123" entirely, while the study wants "abc" kept and
# only the digits removed. `[^\W\d_]` is "a word character that is neither a
# digit nor an underscore", i.e. a letter in any alphabet ("café" stays whole).
_WORD_PATTERN = r"[^\W\d_]+"
_analyze = CountVectorizer(lowercase=True, stop_words="english", token_pattern=_WORD_PATTERN).build_analyzer()


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
    vocab_size=reference.VOCAB_SIZE,
    maxlen=reference.MAXLEN,
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
        newsgroups: A `padzero_study.data.newsgroups.Newsgroups` (or anything with `texts`,
            `labels` and `label_names`).
        vocab_size: Positive int, default `reference.VOCAB_SIZE`. Words kept in the
            vocabulary; the result's `vocab_size` adds one for padding.
        maxlen: Positive int, default `reference.MAXLEN`. Length of every row.
        validation_fraction: Float in (0, 1), default `0.2`. Share of the
            posts held out for validation.
        split_seed: Int, default `0`. Seeds the subsample and the split.
        max_docs: Positive int or `None` (default, all posts). Number of
            posts drawn (stratified) before splitting; values above the
            number of posts use them all.
        padding: `"pre"` (default) or `"post"`: where zeros are added to
            short posts, as in `keras.utils.pad_sequences`.

    Returns:
        An `EncodedSplit`. Its vocabulary holds at most `vocab_size` words:
        fewer when the training posts have fewer distinct words, so read
        the embedding size from its `vocab_size` (words + padding).

    Raises:
        ValueError: with a one-line message naming the bad argument.
    """
    # Imported here, not at the top: importing padzero imports Keras, which tokenizing does not need.
    from padzero.validation import check_positive_int

    check_positive_int("vocab_size", vocab_size)
    check_positive_int("maxlen", maxlen)
    if max_docs is not None:
        check_positive_int("max_docs", max_docs)
    values.check_padding_side("padding", padding)
    values.check_fraction("validation_fraction", validation_fraction)
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
        x_train=_padded_ids(train_tokens, vocabulary, maxlen, padding),
        y_train=labels[train_indices],
        x_val=_padded_ids(val_tokens, vocabulary, maxlen, padding),
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
    """The `max_words` most frequent words -> ids 1..max_words; ties alphabetical, so post order does not matter."""
    counts = collections.Counter()
    for tokens in token_lists:
        counts.update(tokens)
    most_frequent = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:max_words]
    return {word: word_id for word_id, (word, _) in enumerate(most_frequent, start=1)}


def _padded_ids(token_lists, vocabulary, maxlen, padding):
    """int32 rows of `maxlen` ids, 0 = padding, as `keras.utils.pad_sequences(..., truncating="pre")`.

    Words missing from `vocabulary` are dropped (as Keras's `Tokenizer` did
    without an `oov_token`); long posts keep their last `maxlen` ids.
    """
    ids = np.zeros((len(token_lists), maxlen), dtype=np.int32)
    for row, tokens in enumerate(token_lists):
        known = [vocabulary[word] for word in tokens if word in vocabulary][-maxlen:]
        if padding == "pre":
            ids[row, maxlen - len(known) :] = known
        else:
            ids[row, : len(known)] = known
    return ids


def repadded(encoded, padding):
    """`encoded` with every post's padding moved to `padding`'s side ("pre" or "post").

    The same ids as `encode_newsgroups` gives with that padding (both keep a
    long post's last `maxlen` ids), without encoding the posts again.

    Example:

    >>> import numpy as np
    >>> split = EncodedSplit(np.array([[0, 0, 4, 5]]), np.array([1]), np.array([[0, 7, 8, 9]]), np.array([0]), {}, [])
    >>> repadded(split, "post").x_train.tolist(), repadded(split, "post").x_val.tolist()
    ([[4, 5, 0, 0]], [[7, 8, 9, 0]])
    """
    values.check_padding_side("padding", padding)

    def moved(ids):
        real = ids != 0
        # A stable sort on which side each id belongs to keeps the real ids in their order.
        order = np.argsort(real if padding == "pre" else ~real, axis=1, kind="stable")
        return np.take_along_axis(ids, order, axis=1)

    return dataclasses.replace(encoded, x_train=moved(encoded.x_train), x_val=moved(encoded.x_val))
