"""Issue 24 item 3, round 13: the pixel recipe's levers from the lecture's literature - Yosinski et al. 2015's clips
(small norm, small contribution) and octaves (coarse-to-fine canvases)."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vizlab.optimize import ChromaBlur, ClipContribution, ClipWeak, class_logit, frequency_energy, pixels, render
from vizlab.optimize.classviz import ClassVizSettings, build, class_visualization, octave_stages, preset


# -- clipping pixels with small contribution ------------------------------------------------------------------
def test_clip_contribution_resets_the_pixels_that_contribute_least():
    x = torch.full((1, 3, 10, 10), 0.5)
    x[..., :5, :] = 0.9                              # the top half is far from grey ...
    grad = torch.zeros_like(x)
    grad[..., :, :5] = 1.0                           # ... but only the left half matters to the objective
    clip = ClipContribution(60, centre=0.5)
    assert clip.project(x, 0) is None  # exact: no gradient seen yet, nothing to judge by
    clip.observe(x, grad)
    out = clip.project(x, 0)
    # contribution |sum_c z_c g_c| is non-zero only in the top-left quarter: every other pixel that was bright
    # (top right) goes back to grey, the top-left quarter stays
    assert torch.equal(out[..., :5, :5], x[..., :5, :5])  # exact
    assert torch.equal(out[..., :5, 5:], torch.full_like(out[..., :5, 5:], 0.5))  # exact
    # the norm clip judges by brightness alone: it keeps the whole bright top half
    weak = ClipWeak(40, centre=0.5).project(x, 0)
    assert torch.equal(weak[..., :5, :], x[..., :5, :])  # exact
    assert ClipContribution(0).project(x, 0) is None  # exact: off
    with pytest.raises(ValueError, match="grad must have the image's shape"):
        clip.observe(x, grad[..., :5])
    with pytest.raises(ValueError, match="percentile must be a finite number >= 0 and < 100"):
        ClipContribution(100)
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        ClipContribution(10, every=0)


def test_clips_take_the_percentile_inside_a_region_only():
    x = torch.full((1, 3, 8, 8), 0.5)
    x[..., 2:6, 2:6] += torch.linspace(0.05, 0.4, 16).view(1, 1, 4, 4)   # 16 pixels inside, rising
    region = torch.zeros(1, 1, 8, 8)
    region[..., 2:6, 2:6] = 1
    # over the whole image the grey ground is the weakest half: a 50 % clip changes nothing of the object
    assert torch.equal(ClipWeak(50, centre=0.5).project(x, 0), x)  # exact
    inside = ClipWeak(50, centre=0.5, region=region).project(x, 0)
    changed = (inside != x).any(dim=1)
    assert int(changed.sum()) == 8 and bool(changed[..., 2:4, 2:6].all())  # exact: the weaker half of the 16
    with pytest.raises(ValueError, match=r"region must be a \(1, 1, H, W\) mask"):
        ClipWeak(10, region=torch.ones(8, 8))
    with pytest.raises(ValueError, match="region is"):
        ClipWeak(10, region=torch.ones(1, 1, 4, 4)).project(x, 0)


def test_render_hands_the_clip_the_gradient_at_the_image(tiny):
    param = pixels((1, 3, 16, 16), seed=0, noise=0.2)
    start = param.image().detach().clone()
    clip = ClipContribution(10)
    render(tiny, class_logit(1), param, steps=1, lr=0.1, optimizer="sgd", regularizers=[clip], progress=False)
    seen, grad = clip._seen
    x = start.clone().requires_grad_(True)
    expected, = torch.autograd.grad(-tiny(x)[0, 1], x)
    assert torch.equal(seen, start)  # exact: the image the model saw
    torch.testing.assert_close(grad, expected)


# -- blurring only the colour ------------------------------------------------------------------------------
def test_chroma_blur_smooths_the_colour_and_keeps_the_grey_level():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 32, 32, generator=gen)          # independently coloured grain
    out = ChromaBlur(3.0, every=2).project(x, 0)
    torch.testing.assert_close(out.mean(dim=1), x.mean(dim=1))   # the brightness detail is untouched
    colour, smoothed = x - x.mean(dim=1, keepdim=True), out - out.mean(dim=1, keepdim=True)
    # share of the colour's energy above 0.1 cycles per pixel: 0.97 for the grain, 0.15 after (a Gaussian filter)
    assert frequency_energy(smoothed, 0.1) < 0.3 * frequency_energy(colour, 0.1)  # exact: a Gaussian filter
    assert ChromaBlur(3.0, every=2).project(x, 1) is None  # exact: only every second step
    assert ChromaBlur(0.0).project(x, 0) is None  # exact: off
    grey = x.mean(dim=1, keepdim=True).expand_as(x)
    torch.testing.assert_close(ChromaBlur(3.0).project(grey, 0), grey)   # a grey picture stays as it is
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        ChromaBlur(-1.0)
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        ChromaBlur(1.0, every=0)
    _, _, regs, _ = build(torch.nn.Identity(), preset("pixels_robust", size=32, chroma_blur=2.0, blur_every=3))
    chroma = [r for r in regs if isinstance(r, ChromaBlur)]
    assert len(chroma) == 1 and chroma[0].sigma == 2.0 and chroma[0].every == 3  # exact
    with pytest.raises(ValueError, match="chroma_blur must be a finite number >= 0, got -1.0"):
        preset("pixels_robust", chroma_blur=-1.0)


# -- octaves: coarse-to-fine canvases ------------------------------------------------------------------------
def test_octave_settings_are_checked():
    assert octave_stages(preset("pixels_robust", steps=150)) == [(224, 150, 25.0)]  # exact: one stage without octaves
    stages = octave_stages(preset("pixels_robust", canvas=128, octaves=(32, 64), steps=100))
    assert stages == [(32, 33, 6.25), (64, 33, 12.5), (128, 34, 25.0)]  # exact: equal shares, lr by side
    with pytest.raises(ValueError, match="octaves are for the pixel mode"):
        preset("fourier", octaves=(32,))
    with pytest.raises(ValueError, match="increasing canvas sides"):
        preset("pixels_robust", canvas=128, octaves=(64, 32))
    with pytest.raises(ValueError, match="increasing canvas sides"):
        preset("pixels_robust", canvas=128, octaves=(32, 128))
    with pytest.raises(ValueError, match="increasing canvas sides"):
        preset("pixels_robust", octaves=(8, 64))
    with pytest.raises(TypeError, match="octaves must be a tuple"):
        preset("pixels_robust", octaves="32,64")
    with pytest.raises(TypeError, match="octaves must hold ints"):
        preset("pixels_robust", octaves=(32.0,))
    with pytest.raises(ValueError, match="steps must be at least one per stage"):
        preset("pixels_robust", octaves=(32, 64), steps=2)
    with pytest.raises(ValueError, match="clip_every must be >= 1"):
        ClassVizSettings(clip_every=0)
    with pytest.raises(ValueError, match="clip_contrib must be a finite number >= 0 and < 100, got 100.0"):
        ClassVizSettings(clip_contrib=100.0)


def test_build_starts_the_canvas_from_init_and_adds_the_clips():
    init = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    settings = preset("pixels_robust", size=48, canvas=16, centre=0.3, clip_weak=20.0, clip_contrib=30.0, clip_every=3)
    param, _, regs, _ = build(torch.nn.Identity(), settings, init=init)
    torch.testing.assert_close(param.canvas.image(), init)
    clips = [r for r in regs if isinstance(r, ClipWeak)]
    assert [type(r) for r in clips] == [ClipWeak, ClipContribution]  # exact
    assert all(r.every == 3 and r.region.shape == (1, 1, 48, 48) for r in clips)  # exact: inside the window
    with pytest.raises(ValueError, match=r"init must be an image tensor of shape \(1, 3, 16, 16\)"):
        build(torch.nn.Identity(), settings, init=init[..., :8, :8])
    with pytest.raises(ValueError, match="init is for the pixel mode"):
        build(torch.nn.Identity(), preset("fourier", size=32), init=torch.rand(1, 3, 32, 32))


def test_octaves_set_the_coarse_shapes_first(tiny):
    settings = preset("pixels_robust", size=64, canvas=32, octaves=(16,), steps=6, blur_sigma=0.0, jitter=2)
    seen = []
    r = class_visualization(tiny, 1, settings, snapshots=1, progress=False,
                            callback=lambda step, img, value: seen.append(step))
    assert seen == [1, 2, 3, 4, 5, 6]  # exact: the callback counts across the stages
    assert r.steps == 6 and len(r.values) == 6 and r.info["octaves"] == [3, 3]  # exact
    assert sorted(r.snapshots) == [1, 2, 3, 4, 5, 6]  # exact: numbered across the stages
    # the 32-px canvas starts from the 16-px stage's picture, enlarged, not from noise: after as many steps the
    # picture holds far less fine detail than a one-stage run's (measured on seeds 0-3: 0.07-0.19 of the energy
    # above 0.15 cycles per pixel, against 0.53-0.88)
    one = class_visualization(tiny, 1, preset("pixels_robust", size=64, canvas=32, steps=6, blur_sigma=0.0, jitter=2),
                              progress=False)
    assert frequency_energy(r.image, 0.15) < 0.5 * frequency_energy(one.image, 0.15)  # exact: resampling
    assert r.image.shape == (1, 3, 64, 64)  # exact


def test_octave_snapshots_are_chosen_over_the_whole_run(tiny):
    settings = preset("pixels_robust", size=32, canvas=32, octaves=(16,), steps=6, blur_sigma=0.0, jitter=2)
    seen = []
    r = class_visualization(tiny, 1, settings, snapshots=[4], progress=False,
                            callback=lambda step, img, value: seen.append(step))
    assert sorted(r.snapshots) == [4, 6] and seen == [4, 6]  # exact: step 4 of the run and its last, not 3
    twelve = replace(settings, steps=12, octaves=(16, 24))
    assert sorted(class_visualization(tiny, 1, twelve, snapshots=4, progress=False).snapshots) == [4, 8, 12]  # exact
    assert sorted(class_visualization(tiny, 1, twelve, progress=False).snapshots) == [12]  # exact


def test_octave_stages_keep_their_own_blur_timing(tiny):
    from vizlab.optimize import Blur
    from vizlab.optimize.classviz import _Local

    blur = Blur(1.0, 3)
    x = torch.rand(1, 3, 8, 8)
    assert _Local(blur, 4).project(x, 4) is not None and _Local(blur, 4).project(x, 5) is None  # exact
    assert blur.project(x, 4) is None  # exact: the run's step 4 is the stage's step 0


def test_class_visualization_with_the_contribution_clip_leaves_few_pixels_off_the_mean(tiny):
    from vizlab.optimize.classviz import model_units

    settings = preset("pixels_robust", size=32, steps=3, clip_contrib=90.0, blur_sigma=0.0, jitter=2)
    r = class_visualization(tiny, 1, settings, progress=False)
    mean, _ = model_units(tiny)
    at_mean = (r.image - mean).abs().amax(dim=1) < 1e-6
    # the last step's clip reset the 90 % of pixels that contributed least: they sit exactly on the mean colour
    assert 0.85 <= float(at_mean.float().mean()) < 1  # exact: a percentile of 1024 pixels


def test_contribution_clip_sees_the_objectives_gradient_not_the_penalties(tiny):
    from vizlab.optimize import L2

    clip = ClipContribution(50.0, every=5)
    param = pixels((1, 3, 16, 16), seed=0)
    render(tiny, class_logit(1), param, steps=1, lr=0.01, regularizers=[L2(10.0, centre=0.5), clip], progress=False)
    seen, grad = clip._seen
    x = seen.clone().requires_grad_(True)
    want, = torch.autograd.grad(-tiny(x)[0, 1], x)
    torch.testing.assert_close(grad, want)
    with_l2, = torch.autograd.grad(-tiny(x)[0, 1] + 10.0 * ((x - 0.5) ** 2).sum(), x)
    assert not torch.allclose(with_l2, want)  # exact: the L2 pull would have changed the score


def test_settings_and_maco_reject_nan_and_infinity():
    from vizlab.optimize import maco

    nan = float("nan")
    for name in ("tilt", "colour_tilt", "saturation"):
        with pytest.raises(ValueError, match=f"{name} must be"):
            maco((1, 3, 16, 16), **{name: nan})
        with pytest.raises(ValueError, match=f"{name} must be a finite number >= 0.*, got nan"):
            preset("maco", **{name: nan})
    for name in ("clip_contrib", "clip_weak", "lr", "l2", "decay", "chroma_blur", "blur_end"):
        with pytest.raises(ValueError, match=f"{name} must be a finite number"):
            preset("pixels_robust", **{name: nan})
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got inf"):
        preset("pixels_robust", lr=float("inf"))
    with pytest.raises(TypeError, match="l2 must be a finite number >= 0, got str"):
        preset("pixels_robust", l2="0.1")


def test_settings_check_types_before_values_and_name_what_is_wrong():
    with pytest.raises(TypeError, match="steps must be an integer >= 0, got str"):
        preset("pixels_robust", octaves=(32,), steps="9")
    with pytest.raises(ValueError, match="start_steps must be >= 1, got -5"):
        preset("object", start_steps=-5)   # one start: still checked
    with pytest.raises(TypeError, match="init must be an image tensor of shape"):
        build(torch.nn.Identity(), preset("pixels_robust", size=16), init=[[0.5]])
    with pytest.raises(TypeError, match="region must be a .* mask tensor or None, got list"):
        ClipWeak(10, region=[[1.0]])
    for cls in (ChromaBlur, ClipWeak):
        with pytest.raises(TypeError, match="every must be an integer >= 1, got bool"):
            cls(1.0, every=True)


def test_norm_clip_leaves_a_uniform_image_alone_and_the_contribution_clip_takes_ties():
    x = torch.full((1, 3, 8, 8), 0.7)
    assert torch.equal(ClipWeak(10, centre=0.5).project(x, 0), x)  # exact: no pixel is weaker than the rest
    region = torch.ones(1, 1, 8, 8)
    assert torch.equal(ClipWeak(10, centre=0.5, region=region).project(x, 0), x)  # exact
    clip = ClipContribution(10, centre=0.5)
    grad = torch.zeros_like(x)
    grad[..., :2, :] = 1.0   # only the top two rows contribute; the rest contribute exactly nothing
    clip.observe(x, grad)
    out = clip.project(x, 0)
    assert bool((out[..., 2:, :] == 0.5).all()) and torch.equal(out[..., :2, :], x[..., :2, :])  # exact


def test_a_stopped_start_or_octave_stage_still_reports_the_whole_run(tiny):
    import threading

    stop = threading.Event()
    stop.set()   # stops before the first step: during the first start
    r = class_visualization(tiny, 1, preset("maco", size=32, steps=6, starts=3, start_steps=2), stop_event=stop,
                            progress=False)
    assert r.reason == "stopped" and r.requested == 6 and r.steps == 0  # exact
    assert r.info["starts"] == dict(scores=[], kept=0) and "ghost_blocks" in r.info  # exact
    stop = threading.Event()
    settings = preset("pixels_robust", size=32, octaves=(16,), steps=6, blur_sigma=0.0, jitter=2)
    r = class_visualization(tiny, 1, settings, stop_event=stop, snapshots=1, progress=False,
                            callback=lambda step, img, value: step == 2 and stop.set())
    assert r.reason == "stopped" and r.steps == 2 and r.requested == 6 and r.info["octaves"] == [2]  # exact
    assert sorted(r.snapshots) == [1, 2] and len(r.values) == 2  # exact
