"""vizlab._validate.check_int: the one integer check of the library (optimisation, style, data sets, the lab)."""
import numpy as np
import pytest

from vizlab._validate import check_int
from vizlab.inside.datasets import photo_crops


def test_check_int_accepts_python_and_numpy_integers_and_returns_int():
    assert check_int("n", 3) == 3
    got = check_int("n", np.int64(4), 0)
    assert got == 4 and type(got) is int
    assert check_int("n", 5, 1, 5) == 5


@pytest.mark.parametrize("value, error, message", [
    (True, TypeError, "n must be an integer >= 1, got bool True"),
    (2.0, TypeError, "n must be an integer >= 1, got float 2.0"),
    ("3", TypeError, "n must be an integer >= 1, got str '3'"),
    (0, ValueError, "n must be an integer >= 1, got 0"),
    (np.int32(-2), ValueError, "n must be an integer >= 1, got -2"),
])
def test_check_int_names_the_argument_and_what_is_allowed(value, error, message):
    with pytest.raises(error, match=message):
        check_int("n", value)


def test_check_int_upper_bound():
    with pytest.raises(ValueError, match=r"k must be an integer in 2\.\.4, got 5"):
        check_int("k", 5, 2, 4)


def test_data_sets_use_the_shared_check():
    # the data set builders used a twin of their own ("must be at least"); now the same message as everywhere
    with pytest.raises(ValueError, match="size must be an integer >= 8, got 4"):
        photo_crops(per_class=2, size=4)
    with pytest.raises(TypeError, match="per_class must be an integer >= 1, got float 2.0"):
        photo_crops(per_class=2.0, size=16)
    assert len(photo_crops(per_class=np.int64(1), size=16)) == len(photo_crops(per_class=1, size=16))
