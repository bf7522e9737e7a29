"""A 0..255 float image is refused, not clamped; huge images and sizes give a one-line CLI error (issue 15)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vizlab.images import MAX_SIDE, load_image, resize, to_tensor
from vizlab.models import model_input
from vizlab.toy import tiny_cnn


def test_a_float_image_in_0_255_is_refused_everywhere_vizlab_normalises(model):
    photo = torch.rand(3, 16, 16) * 255
    for call in (lambda: load_image(photo), lambda: to_tensor(photo), lambda: model_input(model, photo),
                 lambda: load_image(photo.permute(1, 2, 0).numpy())):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            call()
    with pytest.raises(ValueError, match="255"):
        to_tensor(photo[None])
    # an image in [0, 1], and one an optimiser pushed slightly past 1, are fine
    assert to_tensor(photo / 255).shape == (1, 3, 16, 16)
    assert to_tensor(photo / 250).max() > 1


def test_attribution_refuses_a_0_255_image_only_for_vizlabs_own_models(model):
    from vizlab.attribution import saliency

    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        saliency(model, torch.rand(1, 3, 16, 16) * 255, 0)
    # a plain module gets its input as it is (issue 26): any range, e.g. already normalised or 0..255
    wide = torch.rand(1, 3, 16, 16) * 255
    assert saliency(tiny_cnn(0), wide, 0).shape == (1, 16, 16)  # exact
    assert torch.equal(model_input(tiny_cnn(0), wide), wide)  # exact


def test_huge_sizes_and_images_are_refused_with_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="size must be between"):
        resize(np.zeros((16, 16, 3), np.float32), 100_000)
    with pytest.raises(ValueError, match="per side"):
        resize(np.zeros((16, 16, 3), np.float32), (100_000, 16))
    big = tmp_path / "big.png"
    Image.new("1", (14000, 14000)).save(big)  # 1 bit per pixel: small on disk and in memory
    with pytest.raises(ValueError, match="too large|more than vizlab loads"):
        load_image(big)
    assert resize(np.zeros((16, 16, 3), np.float32), MAX_SIDE // 64).shape == (128, 128, 3)


@pytest.mark.parametrize("argv", [["cat", "--size", "100000"], ["BIG"]])
def test_the_cli_gives_one_line_instead_of_a_traceback(tmp_path, capsys, argv):
    from vizlab.cli import main

    big = tmp_path / "big.png"
    Image.new("1", (14000, 14000)).save(big)
    argv = [str(big) if a == "BIG" else a for a in argv]
    assert main(["explain", *argv, "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "vizlab explain: error:" in err and ("size" in err or "large" in err or "pixels" in err)
