"""vizlab.optimize on tiny seeded models: objectives, parameterizations, transforms, regularizers, render loop."""
from __future__ import annotations

import random
import threading

import numpy as np
import pytest
import torch

from conftest import hooks_left
from vizlab.optimize import (L2, TV, Blur, Clamp, Context, Jitter, Objective, Parameterization, channel,
                             class_logit, compose, deepdream, feature_match, fooling_image, fourier, frequency_energy,
                             gaussian_blur, guided, invert, layer_activation, model_units, neuron, pad, pixels,
                             render, rotate, scale)
from vizlab.optimize import ClipWeak, cosine_decay
from vizlab.optimize.classviz import ClassVizSettings, build, preset
from vizlab.optimize.deepdream import octave_sizes
from vizlab.optimize.params import COLOR_SQRT, color_correlation_sqrt


# -- objectives ----------------------------------------------------------------------------------------------
def _ctx() -> Context:
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    act = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)[:1]
    return Context(logits, {"a": act, "b": act * 2})


def test_objectives_add_and_scale_like_numbers():
    c = _ctx()
    o = 2 * class_logit(2) - class_logit(0) + 0.5 * channel("a", 1) + channel("b", 0) / 4
    assert isinstance(o, Objective)
    assert o.layers == {"a", "b"}
    expected = 2 * 3.0 - 1.0 + 0.5 * c.acts["a"][0, 1].mean() + c.acts["b"][0, 0].mean() / 4
    assert float(o(c)) == pytest.approx(float(expected))
    total = sum([class_logit(0), class_logit(1), class_logit(2)])
    assert float(total(c)) == pytest.approx(6.0)
    assert float((-class_logit(1))(c)) == -2.0
    assert float((class_logit(1) + 1.5)(c)) == 3.5
    assert float(layer_activation("a")(c)) == pytest.approx(float(c.acts["a"].pow(2).mean()))
    assert float(neuron("a", 2, 1, 0)(c)) == float(c.acts["a"][0, 2, 1, 0])
    assert float(feature_match("a", c.acts["a"])(c)) == 0.0
    best = guided("a", c.acts["b"], match="best")(c)
    a, b = c.acts["a"].flatten(2)[0], c.acts["b"].flatten(2)[0]
    assert float(best) == pytest.approx(float((a.t() @ b).max(dim=1).values.mean()))
    mean_dir = b.mean(dim=1) / b.mean(dim=1).norm()
    assert float(guided("a", c.acts["b"])(c)) == pytest.approx(float((a.t() @ mean_dir).mean()))


def test_objective_errors_name_the_argument():
    with pytest.raises(TypeError, match="target"):
        class_logit("flamingo")
    with pytest.raises(ValueError, match="index"):
        channel("a", -1)
    with pytest.raises(ValueError, match="out of range"):
        channel("a", 7)(_ctx())
    with pytest.raises(KeyError, match="not captured"):
        channel("zzz", 0)(_ctx())
    with pytest.raises(TypeError):
        class_logit(1) * "2"


# -- parameterizations ---------------------------------------------------------------------------------------
def test_pixels_is_a_pair_and_round_trips():
    params, image = pixels((1, 3, 16, 16), seed=0)
    assert len(params) == 1 and params[0].requires_grad
    x = torch.rand(1, 3, 16, 16)
    p = pixels(init=x, centre=(0.4, 0.5, 0.6), scale=(0.2, 0.3, 0.25))
    torch.testing.assert_close(p.image(), x)
    y = torch.rand(1, 3, 16, 16)
    p.set_image(y)
    torch.testing.assert_close(p.image(), y)


def test_fourier_gives_valid_pixels_and_inverts_an_image():
    p = fourier((1, 3, 32, 24), seed=0)
    x = p.image()
    assert x.shape == (1, 3, 32, 24) and x.min() > 0 and x.max() < 1
    target = torch.rand(1, 3, 32, 24) * 0.9 + 0.05
    p.set_image(target)
    torch.testing.assert_close(p.image(), target, atol=1e-4, rtol=0)
    q = fourier(init=target)
    torch.testing.assert_close(q.image(), target, atol=1e-4, rtol=0)


def test_fourier_prefers_low_frequencies():
    """Random coefficients give a smoother image than random pixels: the 1/f scaling at work."""
    smooth = fourier((1, 3, 64, 64), seed=0, std=1.0, decorrelate=False).image()
    noise = torch.rand(1, 3, 64, 64)
    assert frequency_energy(smooth) < 0.5 * frequency_energy(noise)


def test_color_sqrt_is_a_square_root_of_a_covariance():
    rng = np.random.default_rng(0)
    imgs = [rng.random((8, 8, 3)) for _ in range(3)]
    root = color_correlation_sqrt(imgs).double()
    px = np.concatenate([i.reshape(-1, 3) for i in imgs])
    cov = torch.tensor(np.cov(px.T))
    ratio = (root @ root.T) / cov
    assert torch.allclose(ratio, ratio[0, 0].expand(3, 3), rtol=1e-4)  # equal up to the column scaling
    assert torch.linalg.det(COLOR_SQRT).abs() > 1e-3  # exact


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="shape"):
        pixels((1, 1, 16, 16))
    with pytest.raises(ValueError, match="shape"):
        fourier((3, 16))


# -- transforms ----------------------------------------------------------------------------------------------
def test_jitter_is_undone_exactly():
    x = torch.rand(2, 3, 17, 23)
    j = Jitter(16)
    rng = random.Random(3)
    for _ in range(20):
        y = j(x, rng)
        assert torch.equal(j.undo(y), x)
    assert j.last != (0, 0)


def test_transforms_compose_and_keep_gradients():
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    t = compose(pad(4), Jitter(4), scale((1.25,)), rotate((10,)))
    y = t(x, random.Random(0))
    assert y.shape == (1, 3, 50, 50)  # (32 + 8) * 1.25
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="factors"):
        scale((0.0,))


# -- regularizers ---------------------------------------------------------------------------------------------
def test_blur_lowers_high_frequency_energy_every_k_steps():
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    blur = Blur(sigma=1.0, every=5)
    assert blur.project(x, 3) is None
    y = blur.project(x, 5)
    assert frequency_energy(y) < 0.5 * frequency_energy(x)
    assert Blur(0.0, 1).project(x, 0) is None  # sigma 0 switches it off


def test_blur_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = torch.rand(1, 3, 20, 13, dtype=torch.float64)
    ours = gaussian_blur(x, 0.5).numpy()
    theirs = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, 0.5, 0.5))
    assert np.abs(ours - theirs).max() < 1e-12  # exact


def test_clamp_keeps_pixels_valid(tiny):
    kwargs = dict(steps=5, lr=20.0, optimizer="normalized", size=16, progress=False, seed=0)
    loose = render(tiny, class_logit(3), **kwargs)
    assert loose.image.min() < 0 or loose.image.max() > 1  # without the clamp the pixels leave [0, 1]
    kept = render(tiny, class_logit(3), regularizers=[Clamp()], **kwargs)
    assert kept.image.min() >= 0 and kept.image.max() <= 1


def test_penalties_are_weighted_terms():
    x = torch.full((1, 3, 4, 4), 0.7)
    assert float(L2(2.0, centre=0.5, scale=0.1).penalty(x)) == pytest.approx(2.0 * 48 * 4.0)
    assert L2(0.0).penalty(x) is None
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., ::2] = 1.0
    assert float(TV(0.5).penalty(stripes)) == pytest.approx(0.5 * 12)  # 4 rows x 3 jumps, none vertically
    with pytest.raises(ValueError, match="weight"):
        L2(-1.0)
    with pytest.raises(ValueError, match="every"):
        Blur(0.5, 0)


# -- render loop -----------------------------------------------------------------------------------------------
def test_render_raises_the_objective_and_removes_hooks(tiny):
    obj = channel("conv2", 3) + 0.1 * class_logit(1)
    r = render(tiny, obj, steps=15, lr=0.05, size=24, progress=False, snapshots=5)
    assert r.reason == "finished" and r.steps == 15
    assert r.values[-1] > r.values[0]
    assert sorted(r.snapshots) == [5, 10, 15]
    assert hooks_left(tiny) == 0


def test_hooks_removed_after_an_exception(tiny):
    def boom(ctx):
        raise RuntimeError("objective failed")

    with pytest.raises(RuntimeError, match="objective failed"):
        render(tiny, Objective(boom, ["relu1"]), steps=3, size=16, progress=False)
    assert hooks_left(tiny) == 0


def test_stop_event_returns_the_partial_result(tiny):
    stop = threading.Event()
    seen = []

    def callback(step, image, value):
        seen.append(step)
        if step == 3:
            stop.set()

    r = render(tiny, class_logit(2), steps=50, size=16, progress=False, snapshots=1, callback=callback,
               stop_event=stop)
    assert r.stopped and r.reason == "stopped" and r.steps == 3 and len(r.values) == 3
    torch.testing.assert_close(r.image.cpu(), r.snapshots[3])
    assert hooks_left(tiny) == 0


def test_keyboard_interrupt_returns_the_partial_result(tiny):
    calls = []

    def fn(ctx):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return ctx.act("relu2").mean()

    r = render(tiny, Objective(fn, ["relu2"]), steps=20, size=16, progress=False)
    assert r.reason == "interrupted" and r.stopped and r.steps == 2
    assert 2 in r.snapshots and hooks_left(tiny) == 0


def test_runs_are_reproducible_with_a_seed(tiny):
    def run(seed):
        p = fourier((1, 3, 32, 32), seed=seed)
        t = compose(pad(4), Jitter(4), scale((0.9, 1.1)), rotate((-5, 5)))
        return render(tiny, class_logit(4), p, steps=6, transforms=[t], regularizers=[TV(1e-3)], seed=seed,
                      progress=False).image

    a, b, c = run(1), run(1), run(2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_device_follows_the_model(tiny):
    r = render(tiny, class_logit(0), steps=1, size=16, progress=False)
    assert r.image.device == next(tiny.parameters()).device


def test_bad_arguments_raise(tiny):
    with pytest.raises(ValueError, match="optimizer"):
        render(tiny, class_logit(0), optimizer="lbfgs", progress=False)
    with pytest.raises(ValueError, match="lr"):
        render(tiny, class_logit(0), lr=0, progress=False)
    with pytest.raises(ValueError, match="steps"):
        render(tiny, class_logit(0), steps=-1, progress=False)
    with pytest.raises(TypeError, match="objective"):
        render(tiny, "flamingo", progress=False)
    with pytest.raises(TypeError, match="regularizers"):
        render(tiny, class_logit(0), regularizers=[0.1], progress=False)
    with pytest.raises(ValueError, match="mode"):
        preset("lucid")
    with pytest.raises(ValueError, match="device"):
        elsewhere = torch.zeros(1, 3, 16, 16, device="meta", requires_grad=True)
        render(tiny, class_logit(0), Parameterization([elsewhere], lambda: elsewhere, lambda x: None, "meta"),
               progress=False)


# -- the CS231n recipe, step for step --------------------------------------------------------------------------
def _cs231n_loop(model, target, size, steps, seed, lr=25.0, l2=1e-3, max_jitter=16, blur_every=10):
    """The assignment's loop, written plainly, on the normalised image ``z``."""
    mean, std = model_units(model)
    z = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))
    rng = random.Random(seed)
    lo, hi = -mean / std, (1 - mean) / std
    for t in range(steps):
        ox, oy = rng.randint(0, max_jitter), rng.randint(0, max_jitter)
        z = torch.roll(z, (oy, ox), dims=(2, 3)).requires_grad_(True)
        score = model(mean + std * z)[0, target] - l2 * (z * z).sum()
        (g,) = torch.autograd.grad(score, z)
        with torch.no_grad():
            z = torch.roll(z + lr * g / g.norm(), (-oy, -ox), dims=(2, 3))
            z = torch.max(torch.min(z, hi), lo)
            if t % blur_every == 0:
                z = gaussian_blur(z, 0.5)
    return mean + std * z


def test_assignment_preset_is_the_cs231n_loop(tiny):
    settings = preset("assignment", size=24, steps=12)
    param, transforms, regs, optimizer = build(tiny, settings, seed=5)
    ours = render(tiny, class_logit(7), param, steps=12, lr=settings.lr, optimizer=optimizer, transforms=transforms,
                  regularizers=regs, seed=5, progress=False).image
    theirs = _cs231n_loop(tiny, 7, 24, 12, seed=5)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


# -- deepdream, inversion, fooling on the tiny model ---------------------------------------------------------
def test_deepdream_amplifies_the_layer_and_stops(tiny):
    x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    assert octave_sizes((48, 48), 3, 1.5, smallest=8) == [(21, 21), (32, 32), (48, 48)]

    def energy(img):
        from vizlab.hooks import activations

        return float(activations(tiny, img, "relu2")[1]["relu2"].pow(2).mean())

    d = deepdream(tiny, x, "relu2", octaves=2, steps=5, step_size=0.02, progress=False)
    assert d.image.shape == x.shape and d.reason == "finished" and len(d.octaves) == 2
    assert d.image.min() >= 0 and d.image.max() <= 1
    assert energy(d.image) > energy(x)
    stop = threading.Event()
    stop.set()
    partial = deepdream(tiny, x, "relu2", octaves=3, steps=5, stop_event=stop, progress=False)
    assert partial.stopped and partial.steps == 0
    guided_dream = deepdream(tiny, x, "relu2", octaves=1, steps=3, guide=torch.rand(1, 3, 32, 32), progress=False)
    assert not torch.equal(guided_dream.image, x)
    with pytest.raises(ValueError, match="octave_scale"):
        deepdream(tiny, x, "relu2", octave_scale=1.0)
    assert hooks_left(tiny) == 0


def test_inversion_matches_features(tiny):
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    r = invert(tiny, x, "relu1", steps=40, lr=0.05, param="pixels", progress=False)
    assert -r.values[-1] < 0.5 * -r.values[0]
    assert r.info["layer"] == "relu1" and r.info["mse"] >= 0
    with pytest.raises(ValueError, match="param"):
        invert(tiny, x, "relu1", param="dct")


def test_fooling_checks_its_arguments(tiny):
    with pytest.raises(ValueError, match="score"):
        fooling_image(tiny, torch.rand(1, 3, 16, 16), 1, score="margin")


def test_show_fooling_true_scale_panel():
    """magnify=1 draws the change at its true scale (0.5 + d, nearly flat grey) and says so; 10 magnifies it."""
    import matplotlib.pyplot as plt

    from vizlab.optimize import show_fooling
    from vizlab.optimize.fooling import FoolingResult
    original = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    d = 0.02 * torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    result = FoolingResult((original + d).clamp(0, 1), original, 1, 1, 0.9, 3, "finished")
    for magnify, title in [(1, "difference at true scale"), (10, "difference x10")]:
        fig = show_fooling(result, magnify=magnify)
        ax = fig.axes[3]
        shown = np.asarray(ax.images[0].get_array(), dtype=float)
        expected = result.magnified(magnify)[0].permute(1, 2, 0).numpy()
        assert ax.get_title() == title
        assert np.allclose(shown, expected, atol=1e-6)
        plt.close(fig)
    assert np.abs(result.magnified(1) - 0.5).max() < np.abs(result.magnified(10) - 0.5).max()


def test_repeated_renders_leave_no_hooks_or_tensors(tiny):
    import gc
    import warnings

    def live_tensors() -> int:
        gc.collect()
        with warnings.catch_warnings():  # isinstance() on some lazy torch module objects warns
            warnings.simplefilter("ignore")
            return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))

    render(tiny, channel("relu2", 1), steps=2, size=16, progress=False)
    before = live_tensors()
    for _ in range(30):
        render(tiny, channel("relu2", 1), steps=2, size=16, progress=False)
    assert hooks_left(tiny) == 0
    assert live_tensors() - before < 5  # nothing accumulates from run to run


def test_out_of_range_units_are_value_errors(tiny):
    with pytest.raises(ValueError, match="index=99 is out of range"):
        render(tiny, neuron("conv1", 99), steps=1, size=16, progress=False)
    with pytest.raises(ValueError, match="y=40 is out of range"):
        render(tiny, neuron("conv1", 0, y=40), steps=1, size=16, progress=False)
    with pytest.raises(ValueError, match="batch=3"):
        render(tiny, class_logit(1, batch=3), steps=1, size=16, progress=False)
    assert hooks_left(tiny) == 0


# -- schedules and the regularizers of the transferable pixel recipe -------------------------------------------
def test_cosine_decay_falls_from_one_to_end():
    f = cosine_decay(0.1)
    values = [f(s, 50) for s in range(50)]
    assert values[0] == pytest.approx(1.0) and values[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(values, values[1:]))
    with pytest.raises(ValueError, match="end"):
        cosine_decay(1.5)


def test_lr_schedule_scales_each_step(tiny):
    """With normalised steps the parameters move exactly lr * factor per step; a schedule shrinks the moves."""
    seen = []
    sched = lambda step, steps: seen.append(step) or (1.0 if step == 0 else 0.0)  # noqa: E731
    p = pixels((1, 3, 16, 16), seed=0)
    start = p.params[0].detach().clone()
    render(tiny, class_logit(1), p, steps=3, lr=2.0, optimizer="normalized", lr_schedule=sched, progress=False)
    assert seen == [0, 1, 2]
    moved = (p.params[0].detach() - start).norm()
    assert float(moved) == pytest.approx(2.0, rel=1e-4)  # only the first step moved (factor 0 afterwards)
    with pytest.raises(TypeError, match="lr_schedule"):
        render(tiny, class_logit(1), steps=1, size=16, lr_schedule=0.5, progress=False)


def test_blur_schedule_narrows():
    b = Blur(1.0, every=2, end_sigma=0.2, steps=11)
    assert b.sigma_at(0) == pytest.approx(1.0) and b.sigma_at(10) == pytest.approx(0.2)
    assert b.sigma_at(5) == pytest.approx(0.6)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert b.project(x, 1) is None
    early, late = b.project(x, 0), b.project(x, 10)
    assert frequency_energy(early) < frequency_energy(late) < frequency_energy(x)
    with pytest.raises(ValueError, match="steps"):
        Blur(1.0, end_sigma=0.5)


def test_clip_weak_resets_the_weakest_pixels_to_the_centre():
    x = torch.full((1, 3, 10, 10), 0.5)
    x[..., :5, :] += torch.linspace(0.01, 0.4, 50).view(1, 1, 5, 10)  # 50 pixels away from grey, rising
    out = ClipWeak(70, centre=0.5).project(x, 0)
    changed = (out != x).any(dim=1)
    assert 0 < int(changed.sum()) <= 70
    assert torch.allclose(out[..., 4, 9], x[..., 4, 9])   # the strongest pixel stays
    assert torch.allclose(out[..., 0, 0], torch.full((1, 3), 0.5))  # the weakest is reset to grey
    assert ClipWeak(0).project(x, 0) is None
    with pytest.raises(ValueError, match="percentile"):
        ClipWeak(100)


def test_presets_and_settings_validation():
    assert preset("assignment") == ClassVizSettings()
    assert preset("cs231n").robust and preset("cs231n").mode == "cs231n"
    assert preset("fourier").mode == "fourier" and preset("fourier").lr_end < 1
    with pytest.raises(ValueError, match="lr_end"):
        ClassVizSettings(lr_end=2.0)
    with pytest.raises(ValueError, match="clip_weak"):
        ClassVizSettings(clip_weak=100.0)
    with pytest.raises(ValueError, match="blur_end"):
        ClassVizSettings(blur_end=-1.0)
    param, transforms, regs, _ = build(torch.nn.Identity(), preset("pixels_robust", size=32, clip_weak=5.0))
    assert any(isinstance(r, ClipWeak) for r in regs)
    assert any(isinstance(r, Blur) and r.sigma_at(0) > r.sigma_at(149) for r in regs)


def test_fourier_starts_from_the_asked_colour():
    grey = fourier((1, 3, 32, 32), seed=0, decorrelate=False, mean=0.5, std=0.0).image()
    assert torch.allclose(grey, torch.full_like(grey, 0.5), atol=1e-5)
    brown = fourier((1, 3, 32, 32), seed=0, std=0.0).image()
    assert brown.mean(dim=(0, 2, 3)).tolist() == pytest.approx([0.467, 0.361, 0.324], abs=1e-3)


def test_verdict_and_class_mass_on_a_tiny_model(tiny):
    from vizlab.optimize import class_mass, verdict

    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits = tiny(x)[0]
    best = int(logits.argmax())
    v = verdict(tiny, x, best)
    assert v["rank"] == 1 and v["probability"] == pytest.approx(float(logits.softmax(0)[best]))
    worst = int(logits.argmin())
    assert verdict(tiny, x, worst)["rank"] == logits.numel()
    n = logits.numel()
    assert class_mass(tiny, x, range(n)) == pytest.approx(1.0, abs=1e-5)
    assert class_mass(tiny, x, [best]) == pytest.approx(v["probability"])
    with pytest.raises(ValueError, match="classes"):
        class_mass(tiny, x, range(n + 5))


def test_deepdream_detail_blur_keeps_the_photo_and_smooths_the_addition(tiny):
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    sharp = deepdream(tiny, x, "relu2", octaves=1, steps=4, step_size=0.05, progress=False).image
    smooth = deepdream(tiny, x, "relu2", octaves=1, steps=4, step_size=0.05, detail_blur=1.0, progress=False).image
    assert frequency_energy(smooth - x) < frequency_energy(sharp - x)
    with pytest.raises(ValueError, match="detail_blur"):
        deepdream(tiny, x, "relu2", detail_blur=-1.0)
    assert hooks_left(tiny) == 0


def test_deepdream_preconditioned_step_is_large_scale_and_luminance_led(tiny):
    """decay filters the step by 1/f^decay (less high-frequency energy in what the dream adds); decorrelate mixes
    it across colours by the photo covariance (the three channels of the addition move together)."""
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    kw = dict(octaves=1, steps=4, step_size=0.02, jitter=0, progress=False)
    plain = deepdream(tiny, x, "relu2", **kw).image - x
    smooth = deepdream(tiny, x, "relu2", decay=1.5, **kw).image - x
    assert frequency_energy(smooth) < 0.5 * frequency_energy(plain)
    assert smooth.mean(dim=(2, 3)).abs().max() < 0.2 * plain.abs().mean()   # no shift of the mean colour

    def channel_agreement(d):
        c = torch.corrcoef(d[0].reshape(3, -1))
        return float((c[0, 1] + c[0, 2] + c[1, 2]) / 3)

    mixed = deepdream(tiny, x, "relu2", decorrelate=True, **kw).image - x
    assert channel_agreement(mixed) > channel_agreement(plain) + 0.3
    assert hooks_left(tiny) == 0


def test_deepdream_ghost_and_preconditioning_arguments(tiny):
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    for kw, err in [(dict(ghost=1.0), ValueError), (dict(ghost=-0.1), ValueError), (dict(ghost="0.3"), TypeError),
                    (dict(decay=-1.0), ValueError), (dict(decay=None), TypeError),
                    (dict(decorrelate=1), TypeError)]:
        name = next(iter(kw))
        with pytest.raises(err, match=name):
            deepdream(tiny, x, "relu2", steps=1, progress=False, **kw)
    # the tiny CNN has no residual branches to skip: asking for a ghost is an error, not silently ignored
    with pytest.raises(ValueError, match="ghost"):
        deepdream(tiny, x, "relu2", steps=1, ghost=0.3, progress=False)
    assert hooks_left(tiny) == 0


def test_copies_average_the_objective_over_transformed_copies(tiny):
    """With copies=k the model runs k times per step on fresh transforms, and the value is their mean."""
    calls = []
    handle = tiny.register_forward_hook(lambda m, i, o: calls.append(i[0].shape))
    try:
        p = pixels((1, 3, 16, 16), seed=0)
        r = render(tiny, class_logit(1), p, steps=2, lr=0.01, copies=3, transforms=[Jitter(2)], progress=False)
    finally:
        handle.remove()
    assert len(calls) == 6 and r.steps == 2
    # the reported value is the mean over copies: the same as one copy when the transform is the identity
    a = render(tiny, class_logit(1), pixels((1, 3, 16, 16), seed=0), steps=1, copies=1, progress=False)
    b = render(tiny, class_logit(1), pixels((1, 3, 16, 16), seed=0), steps=1, copies=4, progress=False)
    assert b.values[0] == pytest.approx(a.values[0], rel=1e-5)
    with pytest.raises(ValueError, match="copies"):
        render(tiny, class_logit(1), steps=1, size=16, copies=0, progress=False)
    with pytest.raises(TypeError, match="copies"):
        render(tiny, class_logit(1), steps=1, size=16, copies=1.5, progress=False)


class _Rivals(torch.nn.Module):
    """Logits of the mean colour: class 0 = 3 r (a rival that red raises fast), class 1 = r + g, class 2 = -g."""

    def forward(self, x):
        r, g = x[:, 0].mean(dim=(-2, -1)), x[:, 1].mean(dim=(-2, -1))
        return torch.stack([3 * r, r + g, -g], dim=1)


def test_log_softmax_objective_lowers_the_other_classes():
    """Ascending the logit of class 1 also raises its rival (red helps both); ascending log p(1) does not."""
    from vizlab.optimize import class_visualization

    model = _Rivals()
    out = {}
    for objective in ("logit", "log_softmax"):
        r = class_visualization(model, 1, mode="fourier", size=16, steps=60, jitter=0, l2=0.0, objective=objective,
                                progress=False)
        out[objective] = model(r.image)[0].detach()
    assert out["logit"][0] > out["logit"][1]                  # the score rose, but the rival rose faster
    assert out["log_softmax"][1] > out["log_softmax"][0] + 0.3  # the class wins: red was lowered, green raised
    with pytest.raises(ValueError, match="objective"):
        preset("fourier", objective="softmax")
    with pytest.raises(ValueError, match="copies"):
        preset("fourier", copies=0)


def test_crop_draws_a_square_within_the_range_and_resizes_it():
    """Crop keeps a square of side in [smallest, 1] x the image, taken from inside the image, resized to size."""
    from vizlab.optimize.transforms import Crop

    x = torch.arange(40 * 40, dtype=torch.float32).view(1, 1, 40, 40).expand(1, 3, 40, 40).clone()
    rng = random.Random(0)
    full = Crop(1.0)(x, rng)
    assert torch.equal(full, x)                                   # smallest=1: the whole image, untouched
    whole = Crop(1.0, size=20)(x, rng)                            # the whole image, halved: same mean
    assert whole.shape == (1, 3, 20, 20) and whole.mean() == pytest.approx(float(x.mean()), rel=1e-3)
    small = Crop(0.5, size=16)
    outs = []
    for _ in range(30):
        out = small(x, rng)
        assert out.shape == (1, 3, 16, 16)
        assert x.min() <= out.min() and out.max() <= x.max()       # only pixels of the image
        outs.append(float(out[0, 0, -1, -1] - out[0, 0, 0, 0]))   # ~ 41 (side - 1): the crop's side
    assert min(outs) < 41 * 26 and max(outs) > 41 * 32           # sides from ~20 to ~40 px were drawn
    y = x.clone().requires_grad_(True)
    Crop(0.5, size=24)(y, rng).sum().backward()
    assert y.grad.abs().sum() > 0                                 # differentiable: gradients reach the pixels
    with pytest.raises(ValueError, match="smallest"):
        Crop(0.0)
    with pytest.raises(ValueError, match="size"):
        Crop(0.5, size=4)


def test_view_crop_and_decay_settings_reach_the_render():
    """``view`` sets what the model sees, ``crop`` adds a Crop, ``decay`` smooths the Fourier start."""
    from vizlab.optimize.transforms import Crop

    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape[-2:]))
            return x.mean(dim=(2, 3)).repeat(1, 4)[:, :10]

    from vizlab.optimize import class_visualization

    r = class_visualization(Spy(), 3, mode="fourier", size=48, steps=3, view=24, progress=False)
    assert set(seen[:3]) == {(24, 24)}
    assert r.info["ghost_blocks"] == 0           # the preset's ghost leaves a model without residual blocks alone
    _, transforms, _, _ = build(torch.nn.Identity(), preset("fourier", size=32, crop=0.6))
    assert isinstance(transforms[-1], Crop) and transforms[-1].smallest == 0.6
    smooth = frequency_energy(build(torch.nn.Identity(), preset("fourier", size=64, decay=2.0))[0].image() - 0.5)
    rough = frequency_energy(build(torch.nn.Identity(), preset("fourier", size=64, decay=0.5))[0].image() - 0.5)
    assert smooth < rough
    for bad in (dict(view=8), dict(crop=0.0), dict(crop=1.5), dict(decay=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            preset("fourier", **bad)
    with pytest.raises(TypeError, match="view"):
        preset("fourier", view=100.0)


class _Residual(torch.nn.Module):
    """A timm-style residual block: ``x + drop_path(branch(x))`` when ``has_skip``."""

    has_skip = True

    def __init__(self):
        super().__init__()
        self.branch = torch.nn.Conv2d(3, 3, 1)
        self.drop_path = torch.nn.Identity()

    def forward(self, x):
        return x + self.drop_path(self.branch(x))


def test_ghost_network_skips_branches_at_random_and_restores_the_model():
    from vizlab.optimize.classviz import ghost_network

    torch.manual_seed(0)
    net = torch.nn.Sequential(_Residual(), _Residual(), torch.nn.Flatten(), torch.nn.LazyLinear(4))
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        full = net(x)
        with ghost_network(net, 0.5, seed=0):
            outs = [net(x) for _ in range(20)]
            # another thread, and a fast copy built meanwhile, see the whole network
            other = []
            worker = threading.Thread(target=lambda: other.extend(net(x) for _ in range(10)))
            worker.start()
            worker.join()
            assert all(torch.equal(o, full) for o in other)
            from vizlab.fastpath import inference_model

            assert all(torch.allclose(inference_model(net)(x), full, atol=1e-5) for _ in range(10))
        assert all(isinstance(b.drop_path, torch.nn.Identity) for b in net[:2])   # restored
        assert hooks_left(net) == 0
        assert torch.equal(net(x), full)
    distinct = {tuple(o.flatten().tolist()) for o in outs}
    assert 2 <= len(distinct) <= 4 and tuple(full.flatten().tolist()) in distinct   # 4 sub-networks at most
    with pytest.raises(RuntimeError), ghost_network(net, 0.5):                     # restored after an error too
        raise RuntimeError("boom")
    assert all(isinstance(b.drop_path, torch.nn.Identity) for b in net[:2]) and hooks_left(net) == 0
    with pytest.raises(ValueError, match="drop_path"), ghost_network(torch.nn.Linear(2, 2), 0.1):
        pass
    with ghost_network(torch.nn.Linear(2, 2), 0.1, strict=False) as g:              # presets: left as it is
        pass
    assert g.blocks == 0
    with ghost_network(net, 0.1) as g:
        pass
    assert g.blocks == 2
    with pytest.raises(ValueError, match="ghost"):
        preset("fourier", ghost=1.0)
