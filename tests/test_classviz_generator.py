"""Issue 24, round 15: the generator prior (a relu4_1 code decoded by AdaIN's frozen decoder)."""
from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from vizlab.optimize import render
from vizlab.optimize.classviz import OBJECT, ClassVizSettings, build, class_visualization
from vizlab.optimize.params import generator, photo_code_statistics
from vizlab.optimize.regularizers import Blur
from vizlab.style.adain import load_adain
from vizlab.style.transformer import instance_norm


@pytest.fixture(scope="module")
def net():
    return load_adain("cpu")


def test_generator_shapes_and_starts(net):
    for init in ("grey", "noise", "random"):
        param = generator((2, 3, 64, 48), init=init, seed=0, net=net)
        code, = param.params
        assert code.shape == (2, 512, 8, 6) and code.requires_grad  # exact
        x = param.image().detach()
        assert x.shape == (2, 3, 64, 48)  # exact
        assert 0 <= float(x.min()) and float(x.max()) <= 1  # exact
    # an image start is its encoder features: the decoder's picture of it is near the image (AdaIN's auto-encoder)
    photo = torch.rand(1, 3, 32, 32)
    param = generator((1, 3, 32, 32), init=photo, code_range="free", net=net)
    with torch.no_grad():
        assert torch.allclose(param.params[0], net.encode(photo).float(), atol=1e-5)  # exact


def test_generator_is_deterministic_by_seed(net):
    a = generator((1, 3, 32, 32), init="noise", seed=3, net=net).image()
    b = generator((1, 3, 32, 32), init="noise", seed=3, net=net).image()
    c = generator((1, 3, 32, 32), init="noise", seed=4, net=net).image()
    assert torch.equal(a, b)  # exact
    assert not torch.allclose(a, c, atol=1e-3)  # exact
    state = torch.random.get_rng_state()
    generator((1, 3, 32, 32), init="random", seed=0, net=net)
    assert torch.equal(state, torch.random.get_rng_state())  # exact: a private generator


def test_generator_keeps_its_code_in_the_photos_range(net):
    stats = photo_code_statistics(32)
    mine = photo_code_statistics(32, net)   # the caller's encoder (here the same network as the default)
    assert all(torch.equal(stats[k], mine[k]) for k in stats)  # exact
    other = copy.deepcopy(net)   # another encoder: the statistics are its own, not the default network's
    with torch.no_grad():
        list(other.encoder.parameters())[-1].add_(1.0)
    assert not torch.allclose(photo_code_statistics(32, other)["mean"], stats["mean"])  # exact
    assert stats["mean"].shape == stats["std"].shape == stats["high"].shape == (512,)  # exact
    assert (stats["high"] >= stats["mean"]).all() and (stats["mean"] >= 0).all()  # exact: ReLU features
    param = generator((1, 3, 32, 32), init="noise", code_range="clip", seed=0, net=net)
    code, = param.params
    with torch.no_grad():
        code.add_(torch.randn(code.shape, generator=torch.Generator().manual_seed(0)) * 50)
    x = param.image().detach()
    assert (code >= 0).all() and (code <= stats["high"].view(1, -1, 1, 1)).all()  # exact: projected
    assert 0 <= float(x.min()) and float(x.max()) <= 1  # exact
    # "statistics": before the ReLU, every channel of the decoder's input has the photos' mean and spread, for
    # channels whose variance is well above instance_norm's eps (1e-5; a constant channel of z stays constant), so
    # the code ignores a per-channel affine change of z there (a noise start: on the grey one many channels are
    # constant or nearly so)
    param = generator((1, 3, 32, 32), init="noise", code_range="statistics", seed=0, net=net)
    z, = param.params
    mean, std = stats["mean"].view(1, -1, 1, 1), stats["std"].view(1, -1, 1, 1)
    with torch.no_grad():
        live = z.var(dim=(2, 3), unbiased=False)[0] > 0.1
        assert int(live.sum()) > 200  # exact: the check below covers most channels
        pre = instance_norm(z) * std + mean
        a = param.code().clone()
        assert torch.allclose(a, torch.relu(pre), atol=1e-6)  # exact: the defining formula
        spread = live & (stats["std"] > 1e-3)
        assert torch.allclose(pre.mean(dim=(2, 3))[0, live], stats["mean"][live], atol=1e-4)  # exact
        assert torch.allclose(pre.std(dim=(2, 3), unbiased=False)[0, spread], stats["std"][spread],
                              rtol=1e-3)  # exact
        z.mul_(7).add_(3)
        b = param.code()
        assert torch.allclose(a[:, live], b[:, live], atol=1e-3)  # exact: invariant to an affine change of z
    assert (b >= 0).all()  # exact
    free = generator((1, 3, 32, 32), init="noise", code_range="free", seed=0, net=net)
    with torch.no_grad():
        free.params[0].sub_(100)
        assert (free.code() < 0).any()  # exact: no bound


def test_generator_rejects_bad_arguments(net):
    with pytest.raises(ValueError, match="multiples of 8"):
        generator((1, 3, 60, 64), net=net)
    with pytest.raises(ValueError, match="code_range must be one of clip, statistics, free"):
        generator((1, 3, 32, 32), code_range="box", net=net)
    with pytest.raises(ValueError, match="init must be one of grey, noise, random"):
        generator((1, 3, 32, 32), init="photo", net=net)
    with pytest.raises(TypeError, match="init must be a string"):
        generator((1, 3, 32, 32), init=3, net=net)
    with pytest.raises(ValueError, match=r"init must be an image tensor of shape \(1, 3, 32, 32\)"):
        generator((1, 3, 32, 32), init=torch.rand(1, 3, 16, 16), net=net)
    with pytest.raises(ValueError, match=r"init must have values in \[0, 1\]"):
        generator((1, 3, 32, 32), init=torch.rand(1, 3, 32, 32) * 255, net=net)   # refused, not clamped
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError, match="init must have finite values"):
            generator((1, 3, 32, 32), init=torch.full((1, 3, 32, 32), bad), net=net)
    with pytest.raises(TypeError, match="init must be a float image tensor"):
        generator((1, 3, 32, 32), init=torch.zeros(1, 3, 32, 32, dtype=torch.uint8), net=net)
    with pytest.raises(TypeError, match="net must be an AdaIN network"):
        generator((1, 3, 32, 32), net=torch.nn.Identity())
    with pytest.raises(ValueError, match=r"shape must be \(N, 3, H, W\)"):
        generator((1, 1, 32, 32), net=net)
    with pytest.raises(TypeError, match="side must be an integer >= 32, got float 64.0"):
        photo_code_statistics(64.0)
    with pytest.raises(ValueError, match="side must be an integer >= 32, got 16"):
        photo_code_statistics(16)
    with pytest.raises(TypeError, match="net must be an AdaIN network"):
        photo_code_statistics(32, torch.nn.Identity())


def test_optimising_the_code_leaves_the_decoder_untrained(net, tiny):
    before = {k: v.clone() for k, v in net.decoder.state_dict().items()}
    param = generator((1, 3, 32, 32), seed=0, net=net)
    code0 = param.params[0].detach().clone()
    r = render(tiny, 1, param, steps=3, lr=0.5, progress=False)
    assert not torch.equal(param.params[0], code0)  # exact: the code moved
    assert all(torch.equal(before[k], v) for k, v in net.decoder.state_dict().items())  # exact
    assert all(p.grad is None and not p.requires_grad for p in net.decoder.parameters())  # exact
    assert 0 <= float(r.image.min()) and float(r.image.max()) <= 1  # exact


def test_generator_setting_in_class_visualization(net, tiny):
    small = replace(OBJECT, maco=False, generator=True, retry_plain=0.0, size=64, canvas=32, view=32, steps=2)
    param, transforms, regs, optimizer = build(tiny, small, seed=0)
    assert param.canvas.name == "generator[clip]" and param.canvas.params[0].shape == (1, 512, 4, 4)  # exact
    assert optimizer == "adam" and not any(isinstance(r, Blur) for r in regs)  # exact: no no-op blur
    grows = ClassVizSettings(**{**small.to_dict(), "generator": False, "blur_end": 0.8})
    grows.generator = True   # past the settings' refusal: build itself keeps the schedule
    _, _, regs, _ = build(tiny, grows, seed=0)
    assert any(isinstance(r, Blur) for r in regs)  # exact: a blur that grows from 0 is kept
    before = {k: v.clone() for k, v in net.decoder.state_dict().items()}
    r = class_visualization(tiny, 1, small, progress=False)
    assert r.image.shape == (1, 3, 64, 64) and r.steps == 2  # exact
    assert 0 <= float(r.image.min()) and float(r.image.max()) <= 1  # exact
    assert all(torch.equal(before[k], v) for k, v in net.decoder.state_dict().items())  # exact
    again = class_visualization(tiny, 1, small, progress=False)
    assert torch.equal(r.image, again.image)  # exact: seeded
    with pytest.raises(ValueError, match="generator replaces the Fourier parameterization"):
        ClassVizSettings(mode="fourier", maco=True, generator=True)
    with pytest.raises(ValueError, match="generator replaces the Fourier parameterization"):
        ClassVizSettings(mode="cs231n", generator=True)
    with pytest.raises(ValueError, match="multiple of 8"):
        ClassVizSettings(mode="fourier", generator=True, canvas=100)
    for name, value in (("blur_sigma", 0.5), ("blur_end", 0.8), ("chroma_blur", 4.0), ("luma_blur", 1.0),
                        ("clip_weak", 10.0), ("clip_contrib", 10.0)):
        with pytest.raises(ValueError, match=rf"generator takes no regularizer that rewrites the image \({name}="):
            replace(small, **{name: value})
        replace(small, generator=False, **{name: value})   # the same lever without the generator is fine
    from vizlab.optimize.classviz import preset

    with pytest.raises(ValueError, match="re-encodes the code"):
        preset("prior", blur_sigma=0.5)
    with pytest.raises(TypeError, match="generator must be a bool"):
        ClassVizSettings(mode="fourier", generator=1)
    with pytest.raises(ValueError, match="code_range must be one of"):
        ClassVizSettings(mode="fourier", generator=True, code_range="box")
    with pytest.raises(ValueError, match="code_init must be one of"):
        ClassVizSettings(mode="fourier", generator=True, code_init="photo")


def test_prior_preset_and_mode(tiny):
    from vizlab.optimize.classviz import PRIOR, preset

    assert preset("prior") == PRIOR and PRIOR.generator and PRIOR.code_range == "statistics"  # exact
    assert PRIOR.ensemble == ("efficientnet_lite1",) and PRIOR.canvas == 128 and not PRIOR.maco  # exact
    assert not OBJECT.generator  # exact: the default is unchanged (opt-in)
    small = replace(PRIOR, ensemble=(), size=32, canvas=32, view=32, steps=1)
    r = class_visualization(tiny, 0, small, mode="prior", progress=False)   # the mode agrees with the settings
    assert r.image.shape == (1, 3, 32, 32)  # exact
    with pytest.raises(ValueError, match="disagrees"):
        class_visualization(tiny, 0, replace(OBJECT, size=32, canvas=32, view=32, steps=1), mode="prior",
                            progress=False)
