"""A study's data: the posts of its dataset as padded id matrices, checked before any run starts, and the facts
recorded beside the settings (classes, vocabulary, posts and a fingerprint of what the models see)."""

import hashlib
import json
import logging

import numpy as np

from padzero_study import results
from padzero_study.data import text
from padzero_study.data.datasets import DATASETS
from padzero_study.study.settings import StudyError
from padzero_study.wording import count_of

logger = logging.getLogger(__name__)


def load_encoded_data(config):
    """Loads the posts of `config.dataset` (its registry entry) and turns them into padded id matrices."""
    newsgroups = DATASETS[config.dataset].load(config)
    return text.encode_newsgroups(
        newsgroups,
        vocab_size=config.vocab_size,
        maxlen=config.maxlen,
        validation_fraction=config.validation_fraction,
        split_seed=config.split_seed,
        max_docs=config.max_docs,
        padding=config.padding,
    )


def check_encoded_data(config, encoded):
    """Refuses, before any run starts, data a study cannot use; logs when max_docs asked for more posts than there are."""
    classes = len(encoded.label_names)
    if not 2 <= classes <= results.LARGEST_CLASS_COUNT:
        raise StudyError(
            f"The {config.dataset} data{f' at {config.data_path}' if config.data_path else ''} has "
            f"{count_of(classes, 'class', 'classes')}; a classifier needs at least 2 (and at most "
            f"{results.LARGEST_CLASS_COUNT:,}). Give data with more newsgroups."
        )
    posts = len(encoded.y_train) + len(encoded.y_val)
    if config.max_docs is not None and config.max_docs > posts:
        logger.warning("max_docs %d asks for more posts than the data has: using all %d", config.max_docs, posts)


def data_facts(encoded):
    """What the data turned out to be, recorded beside the settings: classes, vocabulary (padding id included),
    posts, and the fingerprint of it all (`data_fingerprint`)."""
    return {
        "num_classes": len(encoded.label_names),
        "vocabulary": encoded.vocab_size,
        "train_posts": len(encoded.y_train),
        "validation_posts": len(encoded.y_val),
        "fingerprint": data_fingerprint(encoded),
    }


def data_fingerprint(encoded):
    """'sha256:<hex>' of what the models see: both splits' padded ids and labels, the vocabulary, the label names.

    The same settings on the same posts give the same fingerprint; a post, a label or a newsgroup changed gives
    another. Hashing the encoded ids rather than the texts ties it to what was trained on (a post that
    `max_docs` leaves out changes nothing), in one pass over arrays already in memory.
    """
    digest = hashlib.sha256()
    words_by_id = sorted(encoded.vocabulary, key=encoded.vocabulary.get)
    arrays = [(encoded.x_train, "<i4"), (encoded.y_train, "<i8"), (encoded.x_val, "<i4"), (encoded.y_val, "<i8")]
    header = {
        "label_names": list(encoded.label_names),
        "words": words_by_id,
        "shapes": [list(array.shape) for array, _ in arrays],
    }
    digest.update(json.dumps(header).encode())
    for array, dtype in arrays:  # fixed byte order and width: the same on every machine
        digest.update(np.ascontiguousarray(array, dtype=dtype))
    return f"sha256:{digest.hexdigest()}"
