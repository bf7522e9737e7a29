"""TransformerNet, its training loop, checkpoints and the style CLI, on tiny sizes."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from vizlab.style.lossnet import LossNetwork, Recipe
from vizlab.style.transformer import (ContentCrops, InstanceNorm, TransformerNet, load_transformer,
                                      save_transformer, stylize, train_transformer)


@pytest.fixture
def tiny_net(tiny):
    recipe = Recipe("tiny", style_layers=("relu1", "relu2"), content_layers=("relu2",), style_weight=5.0)
    return LossNetwork(tiny, ["relu1", "relu2"], recipe)


@pytest.mark.parametrize("norm", ["instance", "batch"])
@pytest.mark.parametrize("hw", [(32, 32), (30, 45), (17, 64)])
def test_transformer_keeps_image_size(norm, hw):
    torch.manual_seed(0)
    net = TransformerNet(norm=norm, width=4, blocks=1).eval()
    y = net(torch.rand(2, 3, *hw))
    assert y.shape == (2, 3, *hw)
    assert 0 <= y.min() and y.max() <= 1


def test_norm_switch_and_bad_arguments():
    inst = TransformerNet(norm="instance", width=4, blocks=1)
    batch = TransformerNet(norm="batch", width=4, blocks=1)
    assert any(isinstance(m, InstanceNorm) for m in inst.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in inst.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in batch.modules())
    with pytest.raises(ValueError, match="norm"):
        TransformerNet(norm="layer")
    with pytest.raises(ValueError, match="x must"):
        inst(torch.rand(1, 1, 8, 8))


def test_instance_norm_net_ignores_contrast_of_input():
    torch.manual_seed(0)
    net = TransformerNet(norm="instance", width=4, blocks=1).eval()
    x = torch.rand(1, 3, 16, 16)
    # The first normalisation removes any per-channel affine change of the first conv's output.
    first = net.encoder[0]
    a = net.encoder[1](first(x))
    b = net.encoder[1](first(x) * 3 + 1)
    assert torch.allclose(a, b, atol=1e-3)  # eps makes it approximate


def test_training_reduces_loss_and_stops(tiny_net, tmp_path):
    torch.manual_seed(0)
    ckpt = tmp_path / "net.pt"
    result = train_transformer(torch.rand(1, 3, 24, 24), size=24, batch_size=2, steps=12, lr=1e-2, width=4,
                               blocks=1, loss_net=tiny_net, checkpoint=ckpt, checkpoint_every=5, progress=False)
    first = np.mean([h["total"] for h in result.history[:3]])
    last = np.mean([h["total"] for h in result.history[-3:]])
    assert last < first
    assert result.steps == 12 and not result.stopped and not result.net.training
    loaded = load_transformer(ckpt)
    assert loaded.meta["steps_done"] == 12
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(loaded(x), result.net(x), atol=2e-2)  # half precision on disk

    stop = threading.Event()
    partial = train_transformer("swirls", size=24, batch_size=1, steps=50, width=4, blocks=1, loss_net=tiny_net,
                                callback=lambda step, losses: stop.set() if step == 2 else None,
                                stop_event=stop, progress=False)
    assert partial.stopped and partial.steps == 2


def test_checkpoint_tolerates_stale_instance_norm_keys(tmp_path):
    net = TransformerNet(norm="instance", width=4, blocks=1)
    state = net.state_dict()
    # What nn.InstanceNorm2d(track_running_stats=True) checkpoints of old PyTorch carried along.
    for name, module in net.named_modules():
        if isinstance(module, InstanceNorm):
            state[f"{name}.running_mean"] = torch.zeros_like(module.weight)
            state[f"{name}.running_var"] = torch.ones_like(module.weight)
            state[f"{name}.num_batches_tracked"] = torch.tensor(0)
    path = tmp_path / "old.pt"
    torch.save({"state_dict": state, "config": net.config}, path)
    loaded = load_transformer(path)
    x = torch.rand(1, 3, 16, 16)
    assert torch.allclose(loaded(x), net.eval()(x), atol=1e-6)
    torch.save(state, tmp_path / "bare.pt")  # a bare state dict, no config
    assert load_transformer(tmp_path / "bare.pt").norm == "instance"
    bad = {k: v for k, v in state.items() if "residual" not in k}
    bad["junk.weight"] = torch.zeros(1)
    torch.save({"state_dict": bad, "config": net.config}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="does not fit"):
        load_transformer(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="neither a file"):
        load_transformer("no_such_network")


def test_save_is_half_precision(tmp_path):
    net = TransformerNet(width=4, blocks=1)
    save_transformer(net, tmp_path / "a.pt", meta={"note": "x"})
    blob = torch.load(tmp_path / "a.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in blob["state_dict"].values() if v.is_floating_point())
    assert blob["meta"] == {"note": "x"}


def test_content_crops_from_folder(tmp_path):
    from vizlab.images import sample_image, save_image

    save_image(sample_image("cat", 64), tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    save_image(sample_image("rocket", 80), tmp_path / "sub" / "b.jpg")
    crops = ContentCrops(tmp_path, size=24, seed=0)
    assert len(crops.sources) == 2
    batch = crops.batch(3)
    assert batch.shape == (3, 3, 24, 24) and batch.dtype == torch.float32
    assert "cat" not in ContentCrops(None, size=24).sources  # held out for judging networks
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        ContentCrops(tmp_path / "empty", size=24)
    with pytest.raises(ValueError, match="not a directory"):
        ContentCrops(tmp_path / "missing", size=24)


def test_stylize_keeps_aspect_ratio():
    net = TransformerNet(width=4, blocks=1)
    out = stylize(net, "rocket", size=40)
    h, w = out.shape[-2:]
    assert min(h, w) == 40 and h != w


def test_cli_train_and_stylize(tmp_path, capsys):
    from vizlab.cli import main

    out = tmp_path / "n.pt"
    code = main(["style-train", "waves", str(out), "--size", "32", "--steps", "2", "--batch-size", "1",
                 "--width", "4", "--device", "cpu", "--palette-weight", "50", "--flat-patches", "0.5",
                 "--dark-weight", "7", "--saturation-weight", "0.3", "--saturation-limit", "2.5"])
    assert code == 0 and out.exists()
    assert '"steps": 2' in capsys.readouterr().out
    meta = load_transformer(out).meta
    assert meta["palette_weight"] == 50 and meta["flat_patches"] == 0.5 and meta["last"]["palette"] > 0
    assert meta["dark_weight"] == 7 and "dark" in meta["last"]
    assert meta["saturation_weight"] == 0.3 and meta["saturation_limit"] == 2.5 and "saturation" in meta["last"]
    png = tmp_path / "o.png"
    assert main(["stylize", str(out), "cat", str(png), "--size", "48"]) == 0
    from vizlab.images import load_image

    assert load_image(png).shape[0] == 48
    assert main(["stylize", "no_such_net", "cat", str(png)]) == 2


def test_bad_sizes_and_intervals_are_value_errors():
    net = TransformerNet(width=8, blocks=1)
    with pytest.raises(ValueError, match="size must be an integer >= 16"):
        stylize(net, "cat", size=0)
    with pytest.raises(ValueError, match="checkpoint_every"):
        train_transformer("waves", steps=1, checkpoint_every=0)
    out = stylize(net, torch.rand(3, 20, 24, dtype=torch.float64))  # float64 tensors are cast, size kept
    assert out.shape == (1, 3, 20, 24) and out.dtype == torch.float32


def test_resume_continues_with_optimizer_state(tiny_net, tmp_path):
    ckpt = tmp_path / "net.pt"
    kw = dict(size=24, batch_size=1, width=4, blocks=1, loss_net=tiny_net, checkpoint=ckpt, progress=False, lr=1e-2)
    first = train_transformer("waves", steps=4, **kw)
    blob = torch.load(ckpt, weights_only=True)
    assert "optimizer" in blob and blob["meta"]["steps_done"] == 4
    exp_avg = [s["exp_avg"] for s in blob["optimizer"]["state"].values()]
    assert exp_avg and any(float(t.float().abs().sum()) > 0 for t in exp_avg)  # Adam's moments were kept

    resumed = train_transformer("waves", steps=7, resume=True, **kw)
    assert resumed.steps == 7 and len(resumed.history) == 7
    assert [h["total"] for h in resumed.history[:4]] == pytest.approx([h["total"] for h in first.history], rel=1e-3)
    meta = load_transformer(ckpt).meta
    assert meta["steps_done"] == 7 and len(meta["history"]["total"]) == 7
    # Adam's step counter went on from 4, so the optimizer state was restored, not rebuilt.
    steps = [float(s["step"]) for s in torch.load(ckpt, weights_only=True)["optimizer"]["state"].values()]
    assert steps and all(s == 7 for s in steps)

    again = train_transformer("waves", steps=7, resume=True, **kw)  # nothing left to do
    assert again.steps == 7 and not any(h["step"] > 7 for h in again.history)
    fresh = train_transformer("waves", steps=2, **kw)  # without resume the file is overwritten
    assert fresh.steps == 2 and load_transformer(ckpt).meta["steps_done"] == 2


def test_cli_resume_and_clear_errors(tmp_path, capsys):
    from vizlab.cli import main

    out = tmp_path / "n.pt"
    args = ["style-train", "waves", str(out), "--size", "32", "--batch-size", "1", "--width", "4", "--blocks", "1",
            "--device", "cpu"]
    assert main([*args, "--steps", "2"]) == 0
    assert main([*args, "--steps", "3", "--resume"]) == 0
    assert '"steps": 3' in capsys.readouterr().out
    assert load_transformer(out).meta["steps_done"] == 3

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(out.read_bytes()[:500])  # a truncated download
    capsys.readouterr()
    assert main(["stylize", str(corrupt), "cat", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a readable network file" in err and "Traceback" not in err and len(err.splitlines()) == 1
    (tmp_path / "text.pt").write_text("hello")
    assert main(["stylize", str(tmp_path / "text.pt"), "cat", str(tmp_path / "o.png")]) == 2
    assert "not a readable network file" in capsys.readouterr().err

    assert main(["stylize", str(out), "cat", str(tmp_path / "missing" / "o.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not exist" in err and "missing" in err and len(err.splitlines()) == 1
    with pytest.raises(ValueError, match="not a readable network file"):
        train_transformer("waves", steps=1, size=24, batch_size=1, width=4, blocks=1, checkpoint=corrupt,
                          resume=True, progress=False)


def test_palette_term_enters_the_training_loss(tiny_net):
    style = torch.zeros(1, 3, 24, 24)
    style[:, 0] = 1.0  # a pure red style: most outputs are far from its palette
    kw = dict(size=24, batch_size=2, steps=3, width=4, blocks=1, loss_net=tiny_net, progress=False, seed=1)
    on = train_transformer(style, palette_weight=10.0, palette_margin=0.05, **kw)
    off = train_transformer(style, **kw)
    assert all(h["palette"] > 0 for h in on.history)
    assert all(h["palette"] == 0 for h in off.history)
    for h in on.history:
        assert h["total"] == pytest.approx(h["content"] + h["style"] + h["tv"] + h["palette"], rel=1e-5)
    assert on.config["palette_weight"] == 10.0 and on.config["flat_patches"] == 0.0
    assert all(h["dark"] == 0 for h in on.history + off.history)


def test_darkening_term_enters_the_training_loss(tiny_net):
    style = torch.zeros(1, 3, 24, 24)
    kw = dict(size=24, batch_size=2, width=4, blocks=1, loss_net=tiny_net, progress=False, seed=1, lr=1e-2)

    def black_net():
        # A network that paints (almost) everything black: every lit crop pixel is a droplet.
        torch.manual_seed(0)
        net = TransformerNet(width=4, blocks=1)
        with torch.no_grad():
            net.decoder[-1][-1].bias.fill_(-4.0)
        return net

    on = train_transformer(style, dark_weight=100.0, net=black_net(), steps=6, **kw)
    off = train_transformer(style, net=black_net(), steps=6, **kw)
    assert all(h["dark"] > 0 for h in on.history) and all(h["dark"] == 0 for h in off.history)
    # The term's gradient brightens the output: after the same steps, fewer near-black pixels than without.
    x = ContentCrops(None, size=24, seed=5).batch(2)
    with torch.no_grad():
        assert (on.net(x).amax(1) < 0.15).float().mean() < (off.net(x).amax(1) < 0.15).float().mean()  # claim: dark_term_brightens
    for h in on.history:
        assert h["total"] == pytest.approx(h["content"] + h["style"] + h["tv"] + h["palette"] + h["dark"], rel=1e-5)
    assert on.config["dark_weight"] == 100.0


def test_logits_are_the_output_before_tanh():
    torch.manual_seed(0)
    net = TransformerNet(width=4, blocks=1).eval()
    x = torch.rand(1, 3, 30, 45)
    with torch.no_grad():
        logits = net.logits(x)
        assert logits.shape == x.shape
        assert torch.allclose(net(x), (torch.tanh(logits) + 1) / 2)


def test_saturation_term_shrinks_the_spikes_of_a_saturated_network(tiny_net):
    style = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    kw = dict(size=24, batch_size=2, width=4, blocks=1, loss_net=tiny_net, progress=False, seed=1, lr=1e-2, steps=6)

    def spiky_net():
        torch.manual_seed(0)
        net = TransformerNet(width=4, blocks=1)
        with torch.no_grad():
            net.decoder[-1][-1].weight.mul_(40.0)  # logits of tens: a fully saturated output
        return net

    on = train_transformer(style, saturation_weight=1.0, saturation_limit=3.0, net=spiky_net(), **kw)
    off = train_transformer(style, net=spiky_net(), **kw)
    assert all(h["saturation"] > 0 for h in on.history) and all(h["saturation"] == 0 for h in off.history)
    for h in on.history:
        parts = h["content"] + h["style"] + h["tv"] + h["palette"] + h["dark"] + h["saturation"]
        assert h["total"] == pytest.approx(parts, rel=1e-5)
    x = ContentCrops(None, size=24, seed=5).batch(2)
    with torch.no_grad():
        assert on.net.logits(x).abs().mean() < 0.8 * off.net.logits(x).abs().mean()


def test_flat_patches_put_flat_rectangles_into_crops():
    from scipy.ndimage import uniform_filter

    plain = ContentCrops(None, size=48, seed=3)
    flat = ContentCrops(None, size=48, seed=3, flat_patches=1.0)

    def flattest(img):  # share of pixels whose 5x5 neighbourhood is exactly constant
        std = np.sqrt(np.clip(uniform_filter(img ** 2, (5, 5, 1)) - uniform_filter(img, (5, 5, 1)) ** 2, 0, None))
        return float((std.max(-1) < 1e-6).mean())

    shares = [flattest(flat.crop()) for _ in range(6)]
    assert min(shares) > 0  # every crop has a constant rectangle at least 4 px across
    assert np.mean(shares) > np.mean([flattest(plain.crop()) for _ in range(6)]) + 0.01
    with pytest.raises(ValueError, match="flat_patches"):
        ContentCrops(None, size=48, flat_patches=1.5)


def test_validation_photos_are_disjoint_from_held_out_and_training():
    from vizlab.images import load_image
    from vizlab.style.transformer import HELD_OUT, VALIDATION, training_content, validation_photos

    assert not set(VALIDATION) & set(HELD_OUT)
    train = {str(p) for p in training_content()}
    photos = validation_photos()
    assert len(photos) == len(VALIDATION) and not {str(p) for p in photos} & train
    assert all(load_image(p).ndim == 3 for p in photos)


def test_the_smallest_side_is_found_by_test_for_every_shipped_network_and_refused_below():
    """Review round 18: 1-4 px gave torch's raw "Padding size should be less than ..." RuntimeError although the
    docstring said any size works. MIN_SIDE (5) is the real smallest side of every shipped network (and of a
    fresh one of any width, blocks and norm); below it a ValueError names the argument and the smallest size."""
    from vizlab.style.transformer import MIN_SIDE, _subfolder_names

    assert MIN_SIDE == 5  # exact
    nets = {name: load_transformer(name, device="cpu") for name in _subfolder_names()}
    assert {"vgg19/swirls", "vgg19/impression", "lite0/swirls", "lite0/impression"} <= set(nets)  # exact
    nets["fresh batch-norm"] = TransformerNet(norm="batch", width=4, blocks=0).eval()
    with torch.no_grad():
        for name, net in nets.items():
            for hw in [(MIN_SIDE, 40), (40, MIN_SIDE), (MIN_SIDE, MIN_SIDE), (MIN_SIDE + 2, MIN_SIDE + 1)]:
                assert stylize(net, torch.rand(1, 3, *hw)).shape[-2:] == hw, name  # exact
            for hw in [(MIN_SIDE - 1, 40), (40, 1), (2, 2), (3, 3), (1, 5)]:
                with pytest.raises(ValueError, match=r"image must be at least 5x5 pixels .* got \d+x\d+"):
                    stylize(net, torch.rand(1, 3, *hw))
                with pytest.raises(ValueError, match=r"^x must be at least 5x5 pixels"):
                    net(torch.rand(1, 3, *hw))


def test_cli_stylize_of_a_tiny_image_is_one_clean_line(tmp_path, capsys):
    from PIL import Image

    from vizlab.cli import main

    net = tmp_path / "tiny.pt"
    save_transformer(TransformerNet(width=4, blocks=1), net)
    flat = tmp_path / "flat.png"
    Image.fromarray(np.zeros((3, 40, 3), np.uint8)).save(flat)     # 40 wide, 3 high
    capsys.readouterr()
    assert main(["stylize", str(net), str(flat), str(tmp_path / "o.png"), "--size", "full"]) == 2  # exact
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "at least 5x5 pixels" in err and "40x3" in err, err  # exact
    assert not (tmp_path / "o.png").exists()
