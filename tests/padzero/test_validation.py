"""padzero.validation.check_positive_int: the one check of positive integer arguments."""

import numpy as np
import pytest

from padzero.validation import check_positive_int

# Importing padzero imports Keras, so this module runs once per backend.
pytestmark = pytest.mark.per_backend


@pytest.mark.parametrize("value", [1, 7, 10**12, np.int64(5), np.int32(3), np.uint8(200)])
def test_positive_integers_come_back_as_python_ints(value):
    checked = check_positive_int("size", value)
    assert checked == value and type(checked) is int


@pytest.mark.parametrize(
    "value", [0, -3, True, False, np.bool_(True), 2.0, np.float64(3.0), "4", None, [1], np.int64(0)]
)
def test_anything_else_raises_one_line_naming_the_argument_and_value(value):
    with pytest.raises(ValueError) as caught:
        check_positive_int("batch_size", value)
    assert str(caught.value) == f"batch_size must be a positive integer; received batch_size={value!r}"


def test_maximum_is_inclusive_and_stated_with_thousands_separators():
    assert check_positive_int("maxlen", 4096, maximum=4096) == 4096
    with pytest.raises(ValueError) as caught:
        check_positive_int("maxlen", 4097, maximum=4096)
    assert str(caught.value) == "maxlen must be a positive integer of at most 4,096; received maxlen=4097"


def test_hint_is_appended_after_a_semicolon():
    with pytest.raises(ValueError) as caught:
        check_positive_int("workers", 0, hint="use 1 to load in the main process")
    assert str(caught.value) == (
        "workers must be a positive integer; received workers=0; use 1 to load in the main process"
    )
    with pytest.raises(ValueError, match=r"of at most 8; received workers=9; only 8 cores$"):
        check_positive_int("workers", 9, maximum=8, hint="only 8 cores")


def test_a_valid_value_ignores_the_hint():
    assert check_positive_int("workers", 2, maximum=8, hint="never shown") == 2
