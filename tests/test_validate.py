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


def test_check_number_accepts_python_and_numpy_numbers_and_returns_float():
    from vizlab._validate import check_number
    assert check_number("w", 0) == 0.0 and type(check_number("w", 2)) is float
    assert check_number("w", np.float32(0.5)) == 0.5
    assert check_number("w", np.int64(3), 0, 4) == 3.0
    assert check_number("w", -1.5, None) == -1.5      # no lower bound


@pytest.mark.parametrize("value, kw, error, message", [
    ("0.1", {}, TypeError, "w must be a finite number >= 0, got str '0.1'"),     # numeric strings are refused
    (True, {}, TypeError, "w must be a finite number >= 0, got bool True"),
    (None, {}, TypeError, "w must be a finite number >= 0, got NoneType None"),
    (float("nan"), {}, ValueError, "w must be a finite number >= 0, got nan"),
    (float("inf"), {}, ValueError, "w must be a finite number >= 0, got inf"),
    (-0.1, {}, ValueError, "w must be a finite number >= 0, got -0.1"),
    (4.5, {"high": 4}, ValueError, r"w must be a finite number >= 0 and <= 4, got 4\.5"),
    (100, {"high": 100, "high_open": True}, ValueError, "w must be a finite number >= 0 and < 100, got 100"),
    (0, {"low_open": True}, ValueError, "w must be a finite number > 0, got 0"),
])
def test_check_number_names_the_argument_and_what_is_allowed(value, kw, error, message):
    from vizlab._validate import check_number
    with pytest.raises(error, match=message):
        check_number("w", value, **kw)


def test_regularisers_and_parameterizations_use_the_shared_number_check():
    # regularizers._weight and params._non_negative were twins that took numeric strings ("0.1") as numbers
    from vizlab.optimize.params import maco
    from vizlab.optimize.regularizers import L2, Blur, ClipWeak
    with pytest.raises(TypeError, match="weight must be a finite number >= 0, got str '0.1'"):
        L2(weight="0.1")
    with pytest.raises(TypeError, match="sigma must be a finite number >= 0, got str '1'"):
        Blur(sigma="1")
    with pytest.raises(ValueError, match="percentile must be a finite number >= 0 and < 100, got 100"):
        ClipWeak(percentile=100)
    with pytest.raises(TypeError, match="saturation must be a finite number >= 0, got str '1'"):
        maco((1, 3, 16, 16), saturation="1")
    with pytest.raises(ValueError, match="tilt must be a finite number >= 0 and <= 4, got 5"):
        maco((1, 3, 16, 16), tilt=5)
    assert L2(weight=np.float64(0.25)).weight == 0.25


def test_a_bad_seed_is_named_before_torch_sees_it():
    # torch's own manual_seed raised "RuntimeError: manual_seed expected a long, but got float"
    import torch
    from vizlab.evaluate.baselines import random_map
    from vizlab.optimize.params import fourier, maco, pixels
    for make in (pixels, fourier, maco):
        with pytest.raises(TypeError, match="seed must be an integer >= 0, got float 1.5"):
            make((1, 3, 16, 16), seed=1.5)
        with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
            make((1, 3, 16, 16), seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer >= 0, got str '0'"):
        random_map(torch.zeros(1, 3, 8, 8), seed="0")
    a, b = maco((1, 3, 16, 16), seed=np.int64(3)), maco((1, 3, 16, 16), seed=3)
    torch.testing.assert_close(a.image(), b.image())  # exact: the same seed, the same start


def test_nan_starts_and_spectra_are_named_not_drawn():
    # round 16 review: decay=nan, std=nan and noise=nan gave NaN pictures silently
    from vizlab.optimize.params import fourier, pixels
    for make, kw in ((fourier, {"decay": float("nan")}), (fourier, {"std": float("nan")}),
                     (pixels, {"noise": float("nan")})):
        name = next(iter(kw))
        with pytest.raises(ValueError, match=f"{name} must be a finite number >= 0, got nan"):
            make((1, 3, 16, 16), seed=0, **kw)


def test_render_crop_and_blur_use_the_shared_checks():
    import torch
    from vizlab.optimize.regularizers import Blur
    from vizlab.optimize.render import render
    from vizlab.optimize.transforms import Crop
    with pytest.raises(TypeError, match="smallest must be a finite number > 0 and <= 1, got str '0.5'"):
        Crop(smallest="0.5")
    with pytest.raises(ValueError, match="size must be an integer >= 8, got 4"):
        Crop(size=4)
    assert Blur(0.5, end_sigma=0.1, steps=np.int64(10)).steps == 10  # exact: NumPy integers are integers
    with pytest.raises(ValueError, match=r"steps \(an integer >= 1, the run's length\) must be given with end_sigma"):
        Blur(0.5, end_sigma=0.1)
    with pytest.raises(TypeError, match="lr must be a finite number > 0, got str '0.05'"):
        render(torch.nn.Identity(), 0, steps=1, lr="0.05")


def test_every_seeded_generator_names_a_bad_seed():
    # round 16 review: the remaining sites handed the raw seed to torch ("manual_seed expected a long"),
    # and ghost_network turned 1.7 into 1 silently
    import torch
    from vizlab.attribution.saliency import SmoothGrad
    from vizlab.optimize.classviz import ghost_network
    from vizlab.style.losses import style_palette
    from vizlab.toy import random_images, tiny_cnn
    message = "seed must be an integer >= 0, got float 1.7"
    with pytest.raises(TypeError, match=message):
        SmoothGrad(tiny_cnn(seed=0), seed=1.7)
    with pytest.raises(TypeError, match=message):
        ghost_network(tiny_cnn(seed=0), 0.1, seed=1.7)
    with pytest.raises(TypeError, match=message):
        style_palette(torch.rand(1, 3, 8, 8), n=2, seed=1.7)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        random_images(seed=-1)
    torch.testing.assert_close(random_images(seed=np.int64(2)), random_images(seed=2))  # exact
