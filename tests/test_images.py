import numpy as np
import pytest
import torch
from PIL import Image

from vizlab.images import (SAMPLES, as_float_image, cat_and_espresso, load_image, resize, sample_image,
                           sample_names, save_image, to_image, to_tensor)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_sample_loads_offline_as_float_rgb(name):
    img = sample_image(name)
    assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.01  # exact


def test_aliases_and_resize():
    assert np.array_equal(sample_image("chelsea"), sample_image("cat"))
    img = sample_image("cat", 224)
    assert img.shape == (224, 224, 3)
    assert resize(img, (50, 80)).shape == (50, 80, 3)
    with pytest.raises(ValueError, match="unknown sample"):
        sample_image("dog")
    with pytest.raises(TypeError):
        resize(img, "big")


def test_cat_and_espresso_composite_keeps_each_photo_in_its_half():
    comp = cat_and_espresso(224)
    assert comp.shape == (224, 224, 3)
    top, bottom = comp[:112], comp[112:]
    # The espresso photo is dominated by the reddish-brown table and saucer, the cat by grey-brown fur.
    assert bottom[..., 0].mean() - bottom[..., 2].mean() > top[..., 0].mean() - top[..., 2].mean()
    assert "cat_and_espresso" in sample_names()
    assert sample_image("cat_and_espresso", 128).shape == (128, 128, 3)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "I;16", "LA", "1", "CMYK"])
def test_load_image_file_modes(tmp_path, mode):
    rgb = (sample_image("espresso", 64) * 255).astype(np.uint8)
    pil = Image.fromarray(rgb)
    if mode == "I;16":
        pil = Image.fromarray((np.asarray(pil.convert("L")).astype(np.uint16) * 257))
        assert pil.mode in ("I;16", "I")
    else:
        pil = pil.convert(mode)
    path = tmp_path / ("img.tiff" if mode in ("I;16", "CMYK") else "img.png")
    pil.save(path)
    img = load_image(path)
    assert img.shape == (64, 64, 3) and img.dtype == np.float32
    assert 0 <= img.min() and img.max() <= 1
    if mode == "I;16":
        gray = np.asarray(Image.fromarray(rgb).convert("L")) / 255.0
        assert np.abs(img[..., 0] - gray).max() < 1e-3  # exact; 16-bit scaled by 65535, not clipped


def test_rgba_is_composited_on_white(tmp_path):
    arr = np.zeros((4, 4, 4), dtype=np.uint8)  # fully transparent black
    Image.fromarray(arr, "RGBA").save(tmp_path / "t.png")
    assert np.allclose(load_image(tmp_path / "t.png"), 1.0)


def test_exif_rotation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = 255  # left half white
    pil = Image.fromarray(arr)
    exif = pil.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    pil.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    img = load_image(tmp_path / "r.jpg")
    assert img.shape == (40, 20, 3)  # portrait after rotation
    assert img[:15].mean() > 0.8 and img[-15:].mean() < 0.2  # exact; white half is now on top


def test_bad_sources_have_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="neither an existing file"):
        load_image("no_such_file.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="could not read"):
        load_image(tmp_path / "bad.png")
    with pytest.raises(ValueError, match="directory"):
        load_image(tmp_path)
    with pytest.raises(TypeError):
        load_image(42)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_image(np.full((4, 4, 3), 2.0))
    with pytest.raises(ValueError, match="shape"):
        as_float_image(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        as_float_image(np.full((4, 4), np.nan))


def test_url_errors_are_clear_and_fast():
    with pytest.raises(ValueError, match="could not download"):
        load_image("http://127.0.0.1:9/cat.png", timeout=2)


def test_tensor_round_trip_and_batches(tmp_path):
    img = sample_image("flower", 32)
    t = to_tensor(img)
    assert t.shape == (1, 3, 32, 32) and t.dtype == torch.float32
    assert np.allclose(to_image(t), img)
    batch = to_tensor([img, img])
    assert batch.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="same size"):
        to_tensor([img, sample_image("flower", 16)])
    with pytest.raises(ValueError, match="batch"):
        to_image(batch)
    save_image(t, tmp_path / "x.png")
    assert np.abs(load_image(tmp_path / "x.png") - img).max() <= 1 / 255 + 1e-6


def test_image_batch_keeps_the_aspect_and_takes_tensors_as_they_are():
    from vizlab.images import image_batch

    img = np.zeros((40, 80, 3), dtype=np.float32)
    assert image_batch(img, 20).shape == (1, 3, 20, 40)  # exact: shorter side 20, aspect kept
    assert image_batch(img).shape == (1, 3, 40, 80)  # exact: None keeps the size
    t = torch.rand(2, 3, 10, 12)
    assert torch.equal(image_batch(t, 64), t)  # exact: a tensor is used as it is
    with pytest.raises(ValueError, match="size must be an integer >= 16"):
        image_batch(img, 8)
    for bad in (20.0, True):   # not an integer: a TypeError (a NumPy integer is fine)
        with pytest.raises(TypeError, match="size must be an integer >= 16"):
            image_batch(img, bad)
    assert image_batch(img, np.int64(20)).shape == (1, 3, 20, 40)
