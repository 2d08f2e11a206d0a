"""Tests for `padzero_study.data.text`: tokenize, vocabulary, padded ids, train/validation split.

Keras-free but one test, which checks the padding against `keras.utils.pad_sequences`."""

import string

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from padzero_study.data.newsgroups import Newsgroups, load_newsgroups
from padzero_study.data.synthetic import make_synthetic_newsgroups
from padzero_study.data.text import (
    EncodedSplit,
    _padded_ids,
    _vocabulary_from_tokens,
    encode_newsgroups,
    repadded,
    tokenize,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello WORLD", ["hello", "world"]),
        ("don't", ["don", "t"]),
        ("abc123 def", ["abc", "def"]),  # digits cut out, the letters kept
        ("foo_bar", ["foo", "bar"]),
        ("3.14 1993 42nd", ["nd"]),
        ("e-mail: joe@cs.cmu.edu!!!", ["e", "mail", "joe", "cs", "cmu", "edu"]),
        ("x y z", ["x", "y", "z"]),  # single letters stay, as in Keras's Tokenizer
        ("A cat, I think", ["cat", "think"]),  # ...unless they are stop words
        ("The CAFÉ, the café", ["café", "café"]),
        ("", []),
    ],
)
def test_tokenize_hand_made_posts(text, expected):
    assert tokenize(text) == expected


def test_tokenize_decodes_latin1_letters_as_letters():
    post = b"Subject: Re: na\xefve caf\xe9 \xc9COLE\n\n\xa9 1993".decode("latin-1")  # \xa9 is the copyright sign
    assert tokenize(post) == ["subject", "na\xefve", "caf\xe9", "\xe9cole"]


def test_tokenize_removes_every_sklearn_stop_word_in_any_case():
    stop_words = sorted(ENGLISH_STOP_WORDS)
    assert tokenize(" ".join(stop_words)) == []
    assert tokenize(" ".join(stop_words).upper()) == []
    assert tokenize("the orbit of the moon") == ["orbit", "moon"]


def test_tokenize_rejects_bytes():
    with pytest.raises(TypeError, match="text must be a str"):
        tokenize(b"orbit")


def vocabulary_of(texts, max_words=20_000):
    return _vocabulary_from_tokens([tokenize(text) for text in texts], max_words)


def test_vocabulary_orders_by_count_then_alphabetically():
    texts = ["cat dog", "bird cat", "dog cat bird", "ant the 42"]
    # cat 3, bird 2, dog 2 (tie, alphabetical), ant 1; "the" and "42" never count.
    assert vocabulary_of(texts) == {"cat": 1, "bird": 2, "dog": 3, "ant": 4}
    assert vocabulary_of(texts, max_words=2) == {"cat": 1, "bird": 2}
    assert vocabulary_of(list(reversed(texts))) == vocabulary_of(texts)


def test_vocabulary_of_no_words_is_empty():
    assert vocabulary_of(["", "the 1993"]) == {}


VOCABULARY = {"cat": 1, "dog": 2, "bird": 3}
SHORT_AND_LONG = [["cat", "fish", "dog"], ["dog", "cat", "cat", "dog", "bird"]]  # ids [1, 2] and [2, 1, 1, 2, 3]


@pytest.mark.parametrize("padding, expected", [("pre", [[0, 1, 2], [1, 2, 3]]), ("post", [[1, 2, 0], [1, 2, 3]])])
def test_padded_ids_pad_on_the_chosen_side_and_keep_the_end_of_long_posts(padding, expected):
    ids = _padded_ids(SHORT_AND_LONG, VOCABULARY, maxlen=3, padding=padding)
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(ids, np.array(expected, dtype=np.int32))


def test_padded_ids_drop_out_of_vocabulary_words():
    ids = _padded_ids([["fish", "cat", "whale", "dog", "fish"]], VOCABULARY, maxlen=4, padding="pre")
    np.testing.assert_array_equal(ids, [[0, 0, 1, 2]])


def test_padded_ids_turn_empty_posts_into_zero_rows():
    ids = _padded_ids([[], ["fish"]], VOCABULARY, maxlen=4, padding="post")
    np.testing.assert_array_equal(ids, np.zeros((2, 4), dtype=np.int32))
    assert _padded_ids([], VOCABULARY, maxlen=4, padding="pre").shape == (0, 4)


@pytest.mark.per_backend
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_padded_ids_match_keras_pad_sequences(padding):
    import keras

    rng = np.random.default_rng(0)
    vocabulary = {f"w{number}": number for number in range(1, 30)}
    token_lists = [
        [f"w{number}" for number in rng.integers(1, 40, size=length)]  # w30..w39 out of vocabulary
        for length in [0, 1, 3, 7, 8, 9, 25, 2]
    ]
    sequences = [[vocabulary[word] for word in tokens if word in vocabulary] for tokens in token_lists]
    expected = keras.utils.pad_sequences(sequences, maxlen=8, dtype="int32", padding=padding, truncating="pre")
    np.testing.assert_array_equal(_padded_ids(token_lists, vocabulary, maxlen=8, padding=padding), expected)


# --- encode_newsgroups -----------------------------------------------------------------


def _letters(number):
    """0 -> "aa", 1 -> "ab", ...: a letters-only id that survives `tokenize`."""
    return string.ascii_lowercase[number // 26] + string.ascii_lowercase[number % 26]


def _labelled_posts(num_docs=100, num_classes=4):
    """Post i holds its own word "post<i>" and its class's word; classes are balanced."""
    labels = np.arange(num_docs) % num_classes
    texts = [f"post{_letters(i)} topic{_letters(label)} 1993!" for i, label in enumerate(labels)]
    return Newsgroups(texts, labels, [f"group.{label}" for label in range(num_classes)], "hand-made")


def _posts_in_vocabulary(encoded):
    """Indices of the posts whose own word made it into the (training-only) vocabulary."""
    own_words = {f"post{_letters(i)}": i for i in range(26 * 26)}
    return sorted(own_words[word] for word in encoded.vocabulary if word in own_words)


def test_encode_splits_4_to_1_stratified_and_keeps_rows_and_labels_aligned():
    posts = _labelled_posts(num_docs=100, num_classes=4)
    encoded = encode_newsgroups(posts, maxlen=5)
    assert isinstance(encoded, EncodedSplit)
    assert encoded.x_train.shape == (80, 5) and encoded.x_val.shape == (20, 5)
    assert encoded.y_train.dtype == np.int64 and encoded.x_train.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(encoded.y_val), [5, 5, 5, 5])
    assert encoded.label_names == posts.label_names
    words_of_id = {word_id: word for word, word_id in encoded.vocabulary.items()}
    for row, label in zip(encoded.x_train, encoded.y_train):
        # Each training row is [0, 0, 0, own word, class word] (pre-padding).
        assert row[:3].tolist() == [0, 0, 0]
        assert words_of_id[row[4]] == f"topic{_letters(label)}"


def test_encode_fits_vocabulary_on_training_posts_only():
    encoded = encode_newsgroups(_labelled_posts(num_docs=100), maxlen=5)
    # Exactly the 80 training posts contribute their own word; the 20 words seen only in
    # validation posts are out of vocabulary, so validation rows hold just the class word.
    assert len(_posts_in_vocabulary(encoded)) == 80
    assert encoded.vocab_size == len(encoded.vocabulary) + 1 == 80 + 4 + 1
    assert np.all((encoded.x_val != 0).sum(axis=1) == 1)


def test_encode_same_seed_same_split_other_seed_other_split():
    posts = _labelled_posts(num_docs=100)
    first = encode_newsgroups(posts, split_seed=0, maxlen=5)
    again = encode_newsgroups(posts, split_seed=0, maxlen=5)
    other = encode_newsgroups(posts, split_seed=1, maxlen=5)
    assert _posts_in_vocabulary(first) == _posts_in_vocabulary(again)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_val, again.y_val)
    assert _posts_in_vocabulary(first) != _posts_in_vocabulary(other)


def test_encode_max_docs_draws_a_stratified_subsample():
    encoded = encode_newsgroups(_labelled_posts(num_docs=100, num_classes=4), max_docs=40, maxlen=5)
    assert len(encoded.x_train) == 32 and len(encoded.x_val) == 8
    np.testing.assert_array_equal(np.bincount(np.concatenate([encoded.y_train, encoded.y_val])), [10] * 4)
    everything = encode_newsgroups(_labelled_posts(num_docs=100), max_docs=1_000, maxlen=5)
    assert len(everything.x_train) + len(everything.x_val) == 100


def test_encode_keeps_vocab_size_words_and_the_end_of_long_posts():
    texts = ["cat cat cat dog dog bird"] * 4 + ["cat dog"] * 6
    posts = Newsgroups(texts, np.zeros(10, int), ["only"], "hand-made")
    encoded = encode_newsgroups(posts, vocab_size=2, maxlen=3, padding="post")
    assert encoded.vocabulary == {"cat": 1, "dog": 2}
    rows = {tuple(row) for row in np.concatenate([encoded.x_train, encoded.x_val])}
    assert rows == {(1, 2, 2), (1, 2, 0)}  # "bird" is out of vocabulary; "pre" truncation keeps the end


def test_encode_falls_back_to_an_unstratified_split_for_a_singleton_class():
    posts = Newsgroups(["cat dog"] * 10, np.array([0] * 9 + [1]), ["big", "single"], "hand-made")
    encoded = encode_newsgroups(posts, maxlen=2)
    assert len(encoded.y_train) == 8 and len(encoded.y_val) == 2


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"vocab_size": 0}, "vocab_size"),
        ({"maxlen": -1}, "maxlen"),
        ({"maxlen": True}, "maxlen"),
        ({"vocab_size": 2.5}, "vocab_size"),
        ({"max_docs": 0}, "max_docs"),
        ({"max_docs": 10.0}, "max_docs"),
        ({"validation_fraction": 0}, "validation_fraction"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"validation_fraction": "0.2"}, "validation_fraction"),
        ({"padding": "both"}, "padding"),
    ],
)
def test_encode_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be .*received {name}="):
        encode_newsgroups(_labelled_posts(), **kwargs)


def test_encode_too_few_posts_for_both_parts_raises():
    with pytest.raises(ValueError, match="validation_fraction=0.2 of 1 posts leaves an empty"):
        encode_newsgroups(_labelled_posts(), max_docs=1)


@pytest.mark.slow
def test_encode_real_newsgroups(newsgroups_archive):
    encoded = encode_newsgroups(load_newsgroups(newsgroups_archive))
    assert encoded.vocab_size == 20_001
    assert len(encoded.x_train) == 15_076 and len(encoded.x_val) == 3_770  # 18,846 split 4:1
    assert encoded.x_train.shape[1] == 1_100
    ids = np.concatenate([encoded.x_train, encoded.x_val])
    assert 0.8 < np.mean(ids == 0) < 0.92
    assert ids.max() == 20_000


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_repadded_is_what_encoding_with_that_padding_gives(padding):
    # Synthetic posts are of many lengths, some past maxlen: both paddings keep a post's last maxlen ids.
    posts = make_synthetic_newsgroups(num_docs=80, num_classes=4, seed=3)
    other = "post" if padding == "pre" else "pre"
    encoded = encode_newsgroups(posts, maxlen=40, padding=other)
    expected = encode_newsgroups(posts, maxlen=40, padding=padding)
    moved = repadded(encoded, padding)
    np.testing.assert_array_equal(moved.x_train, expected.x_train)
    np.testing.assert_array_equal(moved.x_val, expected.x_val)
    assert moved.y_train is encoded.y_train and (encoded.x_train != expected.x_train).any()
