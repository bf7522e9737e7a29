"""Issue 24's levers for recognisable class images (MACO, ensembles, strong transforms) and the blind scorer."""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from vizlab.optimize import Ensemble, class_logit, maco, natural_spectrum, render, strong
from vizlab.optimize.classviz import ClassVizSettings, build, class_visualization, preset
from vizlab.optimize.params import COLOR_SQRT

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import blind  # noqa: E402
from claims_classviz import diversity_ratio  # noqa: E402


# -- the natural spectrum and MACO ---------------------------------------------------------------------------
def test_natural_spectrum_falls_with_frequency_and_has_no_edge_cross():
    amp = natural_spectrum(64)
    assert amp.shape == (3, 64, 33)  # exact
    low, high = amp[:, 1:5, 1:5].mean(), amp[:, 24:32, 24:32].mean()
    assert low > 10 * high  # exact: photos' amplitude falls roughly as 1/f (measured ratio about 40)
    # the Hann window removes the bright kx = 0 / ky = 0 lines a non-periodic photo adds: the axis column is
    # about as bright as its neighbour (without the window it was 1.4-2x brighter at high frequencies)
    ratio = amp[:, 16:32, 0].mean() / amp[:, 16:32, 1].mean()
    assert ratio < 1.25  # exact
    assert natural_spectrum(64) is not natural_spectrum(64)  # a copy: callers cannot spoil the cache


def test_natural_spectrum_rejects_bad_sizes():
    with pytest.raises(TypeError, match="h must be an int"):
        natural_spectrum(64.0)
    with pytest.raises(ValueError, match="w must be at least 8"):
        natural_spectrum(64, 4)


def _pre_sigmoid_amplitude(x: torch.Tensor, mean: float = 0.5) -> torch.Tensor:
    gain = 1 / (mean * (1 - mean))
    pre = (torch.logit(x.double()) - torch.logit(torch.tensor(mean, dtype=torch.float64))) / gain
    z = torch.einsum("ij,njhw->nihw", torch.linalg.inv(COLOR_SQRT).double(), pre)
    return torch.fft.rfft2(z, norm="ortho").abs()


def test_maco_keeps_the_magnitude_while_the_phase_is_optimised(tiny):
    amp = natural_spectrum(16)
    param = maco((1, 3, 16, 16), seed=0, magnitude=amp)
    assert len(param.params) == 1 and param.params[0].shape == (1, 3, 16, 9)  # exact: only the phase
    before = param.image().detach().clone()
    r = render(tiny, class_logit(1), param, steps=5, lr=0.3, progress=False)
    assert not torch.allclose(r.image, before)  # exact: the optimisation changed the picture
    got = _pre_sigmoid_amplitude(r.image)[0]
    # |F| is A at every frequency but the mean colour (DC: fixed at 0) and the real-only Nyquist bins
    torch.testing.assert_close(got[:, 1:8], amp.double()[:, 1:8], atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(got[:, 9:], amp.double()[:, 9:], atol=1e-4, rtol=1e-3)


def test_maco_set_image_projects_onto_the_fixed_magnitude():
    param = maco((1, 3, 16, 16), seed=1)
    x = param.image().detach().clone()
    param.set_image(x)
    torch.testing.assert_close(param.image(), x, atol=1e-4, rtol=0)  # its own image is a fixed point
    param.set_image(torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)))
    got = _pre_sigmoid_amplitude(param.image().detach())[0]
    torch.testing.assert_close(got[:, 1:8], natural_spectrum(16).double()[:, 1:8], atol=1e-4, rtol=1e-3)


def test_spectrum_distance_is_small_for_maco_and_large_for_white_noise():
    from vizlab.optimize import spectrum_distance

    near = spectrum_distance(maco((1, 3, 32, 32), seed=0).image())
    noise = spectrum_distance(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert near < 0.3 and noise > 5 * near  # exact: maco keeps |F| (up to the sigmoid); measured 0.16 and 2.0
    with pytest.raises(ValueError, match="image must be"):
        spectrum_distance(torch.rand(2, 3, 8, 8))
    with pytest.raises(TypeError, match="image must be a tensor"):
        spectrum_distance([[0.5]])


def test_maco_saturation_scales_only_the_colour_channels():
    amp = natural_spectrum(16)
    got = _pre_sigmoid_amplitude(maco((1, 3, 16, 16), seed=0, saturation=0.0).image().detach())[0]
    bright = int(COLOR_SQRT.norm(dim=0).argmax())
    for c in range(3):  # saturation 0: a grey image, the brightness channel untouched
        if c == bright:
            torch.testing.assert_close(got[c, 1:8], amp.double()[c, 1:8], atol=1e-4, rtol=1e-3)
        else:
            assert got[c].max() < 1e-4  # exact
    x = maco((1, 3, 16, 16), seed=0, saturation=0.0).image()
    assert (x - x.mean(dim=1, keepdim=True)).abs().max() < 0.05  # exact: nearly grey (the mix is not exact grey)
    with pytest.raises(ValueError, match="saturation must be a finite number >= 0"):
        maco((1, 3, 16, 16), saturation=-1)
    with pytest.raises(TypeError, match="saturation must be a finite number"):
        maco((1, 3, 16, 16), saturation="high")


def test_maco_tilt_moves_the_energy_to_coarse_frequencies_and_keeps_its_total():
    """Issue 24 round 12: ``tilt`` multiplies the fixed magnitude by 1/f^tilt at the same energy per channel."""
    amp = torch.full((3, 16, 9), 0.01)  # small: the sigmoid is linear enough to read the spectrum back
    flat = _pre_sigmoid_amplitude(maco((1, 3, 16, 16), seed=0, magnitude=amp).image().detach())[0]
    got = _pre_sigmoid_amplitude(maco((1, 3, 16, 16), seed=0, magnitude=amp, tilt=1.0).image().detach())[0]
    torch.testing.assert_close(flat, amp.double(), atol=1e-5, rtol=1e-3)  # tilt 0: the magnitude as given
    torch.testing.assert_close(got.pow(2).sum(dim=(-2, -1)), amp.double().pow(2).sum(dim=(-2, -1)), rtol=1e-3,
                               atol=0)
    # one cycle per image against the Nyquist frequency (8 cycles): 8x the amplitude at tilt 1
    torch.testing.assert_close(got[:, 0, 1] / got[:, 0, 8], torch.full((3,), 8.0, dtype=torch.float64), rtol=1e-3,
                               atol=0)
    with pytest.raises(ValueError, match="tilt must be a finite number >= 0 and <= 4"):
        maco((1, 3, 16, 16), tilt=-0.5)
    with pytest.raises(TypeError, match="tilt must be a finite number"):
        maco((1, 3, 16, 16), tilt="steep")
    with pytest.raises(ValueError, match="tilt must be a finite number >= 0 and <= 4, got -1.0"):
        preset("object", tilt=-1.0)


def test_maco_colour_tilt_moves_only_the_colour_to_coarse_frequencies():
    """Issue 24 round 13: ``colour_tilt`` tilts the two colour-difference channels only, at their energy."""
    amp = torch.full((3, 16, 9), 0.01)
    got = _pre_sigmoid_amplitude(maco((1, 3, 16, 16), seed=0, magnitude=amp, colour_tilt=1.0).image().detach())[0]
    brightness = int(COLOR_SQRT.norm(dim=0).argmax())
    colour = [c for c in range(3) if c != brightness]
    torch.testing.assert_close(got[brightness], amp[brightness].double(), atol=1e-5, rtol=1e-3)  # exact: untouched
    torch.testing.assert_close(got[colour].pow(2).sum(dim=(-2, -1)), amp[colour].double().pow(2).sum(dim=(-2, -1)),
                               rtol=1e-3, atol=0)  # exact: the colour energy is kept
    torch.testing.assert_close(got[colour][:, 0, 1] / got[colour][:, 0, 8], torch.full((2,), 8.0, dtype=torch.float64),
                               rtol=1e-3, atol=0)  # exact: 1/f, one cycle per image against 8
    with pytest.raises(ValueError, match="colour_tilt must be a finite number >= 0 and <= 4"):
        maco((1, 3, 16, 16), colour_tilt=5)
    with pytest.raises(TypeError, match="colour_tilt must be a finite number"):
        maco((1, 3, 16, 16), colour_tilt="fine")
    with pytest.raises(ValueError, match="colour_tilt must be a finite number >= 0 and <= 4, got 4.5"):
        preset("object", colour_tilt=4.5)
    with pytest.raises(TypeError, match="colour_tilt must be a finite number >= 0 and <= 4, got NoneType None"):
        preset("object", colour_tilt=None)


def test_maco_learn_mean_adds_the_colour_and_bad_input_is_named():
    assert len(maco((1, 3, 16, 16), seed=0, learn_mean=True).params) == 2  # exact
    with pytest.raises(ValueError, match="magnitude must have shape"):
        maco((1, 3, 16, 16), magnitude=torch.ones(3, 16, 16))
    with pytest.raises(TypeError, match="magnitude must be a tensor"):
        maco((1, 3, 16, 16), magnitude=[1.0])
    with pytest.raises(ValueError, match="mean must be in"):
        maco((1, 3, 16, 16), mean=1.0)


# -- ensembles, strong transforms, settings ------------------------------------------------------------------
def test_ensemble_logits_are_the_mean_of_its_members():
    from vizlab.toy import tiny_cnn

    a, b = tiny_cnn(seed=0), tiny_cnn(seed=1)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(Ensemble([a, b])(x), (a(x) + b(x)) / 2)  # exact
    with pytest.raises(ValueError, match="at least one model"):
        Ensemble([])
    with pytest.raises(TypeError, match="nn.Module"):
        Ensemble([a, "lite1"])


def test_strong_transforms_draw_larger_changes_than_standard():
    import random

    from vizlab.optimize.transforms import standard

    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    sizes = {strong(16)(x, random.Random(s)).shape[-1] for s in range(30)}
    usual = {standard(8)(x, random.Random(s)).shape[-1] for s in range(30)}
    assert max(sizes) - min(sizes) > max(usual) - min(usual)  # exact: a wider range of scales


def test_settings_validate_the_new_levers():
    with pytest.raises(TypeError, match="ensemble must be a tuple"):
        ClassVizSettings(mode="fourier", ensemble="efficientnet_lite1")
    with pytest.raises(ValueError, match="ensemble members must be embedded models"):
        ClassVizSettings(mode="fourier", ensemble=("vgg16",))
    with pytest.raises(ValueError, match="transforms must be one of"):
        ClassVizSettings(mode="fourier", transforms="wild")
    assert preset("fourier", ensemble=["efficientnet_lite1"]).ensemble == ("efficientnet_lite1",)  # exact


def test_maco_preset_and_mode(tiny):
    from vizlab.optimize import MACO

    assert preset("maco") == MACO and MACO.maco and MACO.mode == "fourier" and MACO.l2 == 0  # exact
    r = class_visualization(tiny, 1, mode="maco", size=16, steps=2, progress=False)
    assert r.info["settings"].maco  # exact
    assert class_visualization(tiny, 1, MACO, mode="maco", size=16, steps=1, progress=False).steps == 1  # exact
    with pytest.raises(ValueError, match="disagrees"):
        class_visualization(tiny, 1, MACO, mode="cs231n", size=16, steps=1, progress=False)


def test_build_uses_maco_without_a_clamp(tiny):
    param, transforms, regs, optimizer = build(tiny, preset("fourier", maco=True, size=32), seed=0)
    assert param.name == "maco" and optimizer == "adam"  # exact
    assert not any(type(r).__name__ == "Clamp" for r in regs)  # exact


def test_centre_window_is_one_inside_zero_outside_and_checks_its_input():
    from vizlab.optimize import centre_window

    m = centre_window(64, 0.25, 0.15)
    assert m.shape == (1, 1, 64, 64)  # exact
    assert float(m[0, 0, 32, 32]) == 1.0 and float(m[0, 0, 0, 0]) == 0.0  # exact: centre inside, corner out
    assert float(m[0, 0, 32, 63]) == 0.0 and 0 < float(m[0, 0, 32, 55]) < 1  # exact: soft edge, then zero
    torch.testing.assert_close(m, m.flip(-1))
    torch.testing.assert_close(m, m.transpose(-1, -2))
    with pytest.raises(ValueError, match="radius must be a finite number > 0 and <= 1, got 0.0"):
        centre_window(64, 0.0)
    with pytest.raises(TypeError, match="size must be an int"):
        centre_window(64.0, 0.3)


def test_windowed_image_is_grey_outside_and_backdrop_changes_only_the_ground():
    import random

    from vizlab.optimize import Backdrop, pixels, windowed

    param = windowed(pixels((1, 3, 32, 32), seed=0), 0.2, 0.1)
    x = param.image()
    outside = param.window[0, 0] == 0
    assert torch.all(x[0][:, outside] == 0.5)  # exact: a plain grey ground
    assert param.params[0].requires_grad and param.name == "pixels+window"  # exact
    y = Backdrop(param.window, param.ground)(x, random.Random(0))
    inside = param.window[0, 0] == 1
    torch.testing.assert_close(y[0][:, inside], x[0][:, inside])  # the object is untouched
    assert not torch.allclose(y[0][:, outside], x[0][:, outside])  # exact: a random colour behind it
    with pytest.raises(TypeError, match="param must be a Parameterization"):
        windowed(torch.zeros(1, 3, 8, 8), 0.3)


def test_centre_setting_builds_a_windowed_render(tiny):
    from vizlab.optimize import Backdrop

    param, transforms, regs, optimizer = build(tiny, preset("maco", size=32, centre=0.3), seed=0)
    assert param.name == "maco+window" and isinstance(transforms[0], Backdrop)  # exact
    r = class_visualization(tiny, 1, preset("maco", size=32, steps=2, centre=0.3), progress=False)
    corner = r.image[0, :, :3, :3]
    assert torch.all(corner == 0.5)  # exact: the result is shown on the grey ground
    with pytest.raises(ValueError, match="centre must be a finite number >= 0 and <= 1, got 1.5"):
        preset("maco", centre=1.5)


def test_backdrop_switch_leaves_the_window_on_its_grey_ground(tiny):
    """Issue 24 round 12: ``backdrop=False`` keeps the window but puts no random colour behind it while optimising."""
    from vizlab.optimize import Backdrop

    param, transforms, _, _ = build(tiny, preset("maco", size=32, centre=0.3, backdrop=False), seed=0)
    assert param.name == "maco+window" and not any(isinstance(t, Backdrop) for t in transforms)  # exact
    r = class_visualization(tiny, 1, preset("maco", size=32, steps=2, centre=0.3, backdrop=False), progress=False)
    assert torch.all(r.image[0, :, :3, :3] == 0.5)  # exact: still shown on the grey ground
    with pytest.raises(TypeError, match="backdrop must be a bool"):
        preset("maco", backdrop="no")


def test_retry_plain_renders_again_on_the_grey_ground_only_below_the_threshold(tiny):
    """Issue 24 round 12: ``retry_plain`` re-optimises without the random ground when the view's p is too low."""
    from vizlab.optimize.classviz import view_probability

    base = preset("maco", size=32, steps=2, centre=0.3, view=16)
    plain = class_visualization(tiny, 1, replace(base, backdrop=False), progress=False)
    never = class_visualization(tiny, 1, replace(base, retry_plain=1e-9), progress=False)
    assert "retry" not in never.info  # exact: a probability is above 1e-9, no second run
    always = class_visualization(tiny, 1, replace(base, retry_plain=1.0), progress=False)
    retry = always.info["retry"]
    assert retry["random"] == pytest.approx(view_probability(tiny, never.image, 1, 16))  # exact: same first run
    assert retry["plain"] == pytest.approx(view_probability(tiny, plain.image, 1, 16))  # exact: the plain run
    assert retry[retry["kept"]] == max(retry["random"], retry["plain"])  # exact: the surer run is kept
    kept = plain if retry["kept"] == "plain" else never
    torch.testing.assert_close(always.image, kept.image)  # exact: the image of the kept run
    assert always.info["settings"].retry_plain == 1.0  # exact
    import threading

    stop = threading.Event()
    stop.set()
    stopped = class_visualization(tiny, 1, replace(base, retry_plain=1.0), progress=False, stop_event=stop)
    assert "retry" not in stopped.info  # exact: a stopped run is not retried

    class StopInSecondRun(threading.Event):   # set once the first run's steps have all been checked
        calls = 0

        def is_set(self):
            self.calls += 1
            return self.calls > base.steps

    late = class_visualization(tiny, 1, replace(base, retry_plain=1.0), progress=False, stop_event=StopInSecondRun())
    info = late.info["retry"]   # round 16 review: a stop in the second run was reported as a plain finish
    assert info["kept"] == "random" and info["plain"] is None and info["stopped"] == "stopped"  # exact
    torch.testing.assert_close(late.image, never.image)  # exact: the finished first run is kept
    with pytest.raises(ValueError, match="retry_plain must be a finite number >= 0 and <= 1, got 1.5"):
        preset("object", retry_plain=1.5)
    with pytest.raises(TypeError, match="retry_plain must be a finite number >= 0 and <= 1, got str '0.5'"):
        preset("object", retry_plain="0.5")
    with pytest.raises(ValueError, match="tilt must be a finite number >= 0 and <= 4, got 5"):
        preset("maco", tilt=5)


def test_retry_judged_by_members_takes_the_least_sure_network(model):
    """Issue 24 round 17: ``retry_judge="members"`` decides the plain-ground second run (and which run is kept) by
    the smallest p at the view of the model and its ensemble members, not by the model alone."""
    from vizlab.optimize.classviz import ensemble_member, view_probability

    lite1 = ensemble_member("efficientnet_lite1", "cpu")
    base = preset("object_ensemble", size=64, steps=2, view=32, canvas=32)
    first = class_visualization(model, "flamingo", replace(base, retry_plain=0.0), progress=False)
    plain = class_visualization(model, "flamingo", replace(base, retry_plain=0.0, backdrop=False), progress=False)
    target = model.class_index("flamingo")

    def least(image):
        return min(view_probability(model, image, target, 32), view_probability(lite1, image, target, 32))

    r = class_visualization(model, "flamingo", replace(base, retry_plain=1.0, retry_judge="members"), progress=False)
    retry = r.info["retry"]
    assert retry["random"] == pytest.approx(least(first.image))  # exact: the least sure member, first run
    assert retry["plain"] == pytest.approx(least(plain.image))  # exact: and on the plain run
    assert least(first.image) < view_probability(model, first.image, target, 32)  # exact: Lite1 is the less sure here
    torch.testing.assert_close(r.image, plain.image if retry["kept"] == "plain" else first.image)  # exact
    alone = class_visualization(model, "flamingo", replace(base, retry_plain=1.0), progress=False).info["retry"]
    assert alone["random"] == pytest.approx(view_probability(model, first.image, target, 32))  # exact: "model"
    assert preset("object_ensemble").retry_judge == "model"  # exact: round 16's preset keeps Lite0's judge
    with pytest.raises(ValueError, match="retry_judge must be one of model, members"):
        preset("object", retry_judge="lite1")


def test_retry_plain_with_rescale_judges_the_stretched_pictures(tiny):
    """Issue 24 round 16: with ``rescale`` the retry compares the view's p of the pictures as they are shown
    (stretched about the window's grey), not of the optimised ones (the stretch alone can move p across 0.5)."""
    from vizlab.optimize.classviz import rescaled, view_probability

    base = preset("pixels_robust", size=32, steps=2, jitter=2, centre=0.3, view=16, canvas=16)
    first = class_visualization(tiny, 1, base, progress=False)                        # the random-ground run
    plain = class_visualization(tiny, 1, replace(base, backdrop=False), progress=False)
    r = class_visualization(tiny, 1, replace(base, rescale=True, retry_plain=1.0), progress=False)
    retry = r.info["retry"]
    assert retry["random"] == pytest.approx(view_probability(tiny, rescaled(first.image, 0.5), 1, 16))  # exact
    assert retry["plain"] == pytest.approx(view_probability(tiny, rescaled(plain.image, 0.5), 1, 16))  # exact
    assert retry["random"] != pytest.approx(view_probability(tiny, first.image, 1, 16))  # exact: not the optimised
    kept = plain if retry["kept"] == "plain" else first
    torch.testing.assert_close(r.image, rescaled(kept.image, 0.5))  # exact: the kept run, shown stretched
    assert retry[retry["kept"]] == max(retry["random"], retry["plain"])  # exact


def test_starts_continue_the_start_with_the_highest_view_score(tiny):
    """Issue 24 round 13: ``starts`` short runs from seeds ``seed, seed+1, ...``; the best at the view goes on."""
    from vizlab.optimize.classviz import view_logit

    base = preset("maco", size=32, steps=6, centre=0.3, view=16, lr_end=1.0)  # a constant rate: a start is a short run
    several = class_visualization(tiny, 1, replace(base, starts=3, start_steps=2), seed=4, progress=False)
    starts = several.info["starts"]
    assert len(starts["scores"]) == 3 and starts["scores"][starts["kept"]] == max(starts["scores"])  # exact
    assert several.steps == 6 and several.requested == 6 and several.reason == "finished"  # exact: the whole run
    assert len(several.values) == 6  # exact: the kept start's 2 values, then the rest's 4
    for k, score in enumerate(starts["scores"]):  # each start is the 2-step run of its own seed
        short = class_visualization(tiny, 1, replace(base, steps=2), seed=4 + k, progress=False)
        assert score == pytest.approx(view_logit(tiny, short.image, 1, 16), rel=1e-5)  # exact: the same run
    assert len(set(starts["scores"])) == 3  # exact: three different starts
    first = class_visualization(tiny, 1, replace(base, starts=1), seed=4, progress=False)
    assert "starts" not in first.info  # exact: one start is the plain run
    with pytest.raises(ValueError, match="start_steps must be in"):
        preset("object", starts=3, start_steps=100)
    with pytest.raises(ValueError, match="starts must be >= 1"):
        preset("object", starts=0)
    with pytest.raises(TypeError, match="starts must be an int"):
        preset("object", starts=2.0)
    with pytest.raises(ValueError, match="starts .* and octaves .* do not combine"):
        preset("pixels_robust", starts=2, octaves=(64,))


def test_starts_go_on_as_one_run_numbered_across_the_start(tiny):
    """The kept start continues: steps, snapshots and the callback count from the start's first step, and the
    result is exactly the kept seed rendered ``start_steps`` steps, then the rest on the same parameters."""
    from vizlab.optimize.classviz import build, cosine_decay

    settings = preset("maco", size=32, steps=6, centre=0.3, view=16, starts=3, start_steps=2)  # lr falls to 0.1
    seen = []
    r = class_visualization(tiny, 1, settings, seed=4, snapshots=1, progress=False,
                            callback=lambda step, img, value: seen.append(step))
    assert seen == [3, 4, 5, 6]  # exact: the callback sees the continuation, numbered across the run
    assert sorted(r.snapshots) == [1, 2, 3, 4, 5, 6] and r.steps == 6 and len(r.values) == 6  # exact
    shots = class_visualization(tiny, 1, settings, seed=4, snapshots=[4], progress=False).snapshots
    assert sorted(shots) == [4, 6]  # exact: step 4 of the run (and its last), not of the continuation
    kept = 4 + r.info["starts"]["kept"]
    param, transforms, regs, optimizer = build(tiny, settings, kept)
    state, common = {}, dict(optimizer=optimizer, transforms=transforms, regularizers=regs, lr=settings.lr,
                             seed=kept, progress=False, lr_schedule=cosine_decay(settings.lr_end), total=6)
    head = render(tiny, class_logit(1), param, steps=2, state=state, **common)
    tail = render(tiny, class_logit(1), param, steps=4, first_step=2, state=state, **common)
    assert torch.equal(tail.image, r.image)  # exact: one run in two parts
    assert head.values + tail.values == r.values  # exact


def test_render_in_two_parts_with_its_state_is_one_render(tiny):
    """``first_step``/``total``/``state``: the Adam moments, the random transforms and the blur timing go on."""
    from vizlab.optimize import Blur, Jitter, cosine_decay, fourier

    def run(parts):
        param, state = fourier((1, 3, 32, 32), seed=0), {}
        common = dict(lr=0.1, transforms=[Jitter(2)], regularizers=[Blur(1.0, 3, end_sigma=0.2, steps=7)],
                      seed=3, progress=False, lr_schedule=cosine_decay(0.1), total=7, snapshots=2)
        out, first = [], 0
        for steps in parts:
            out.append(render(tiny, class_logit(1), param, steps=steps, first_step=first, state=state, **common))
            first += steps
        return out

    (whole,), (a, b) = run([7]), run([3, 4])
    assert torch.equal(b.image, whole.image)  # exact
    assert sorted(a.snapshots) == [2] and sorted(b.snapshots) == [4, 6, 7]  # exact: the run's snapshot steps
    assert sorted(whole.snapshots) == [2, 4, 6, 7]  # exact
    with pytest.raises(TypeError, match="state must be a dict"):
        render(tiny, class_logit(1), fourier((1, 3, 16, 16)), steps=1, state=[], progress=False)
    with pytest.raises(ValueError, match="total must be an integer >= 3, got 2"):
        render(tiny, class_logit(1), fourier((1, 3, 16, 16)), steps=2, first_step=1, total=2, progress=False)


def test_upsampled_enlarges_the_canvas_and_writes_back_through_it():
    from vizlab.optimize import pixels, upsampled

    small = pixels((1, 3, 16, 16), seed=0)
    param = upsampled(small, 48)
    x = param.image().detach()
    assert x.shape == (1, 3, 48, 48) and param.params == small.params  # exact: the same leaves, a larger image
    assert float(x.min()) >= 0 and float(x.max()) <= 1  # exact: bicubic overshoot is clamped
    target = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1)),
                                             size=(48, 48), mode="bilinear", align_corners=False)
    param.set_image(target)  # a smooth image: the 16-px canvas holds it, so it comes back nearly unchanged
    assert float((param.image().detach() - target).abs().mean()) < 0.03  # exact: only the resampling's rounding differs
    with pytest.raises(ValueError, match="size must be at least the parameterization's side"):
        upsampled(small, 8)
    with pytest.raises(TypeError, match="size must be an int"):
        upsampled(small, 48.0)
    with pytest.raises(TypeError, match="param must be a Parameterization"):
        upsampled(torch.zeros(1, 3, 8, 8), 16)


def test_upsampled_change_write_leaves_an_unprojected_canvas_alone():
    from vizlab.optimize import pixels, upsampled

    small = pixels((1, 3, 16, 16), seed=0)
    before = small.image().detach().clone()
    inner = pixels((1, 3, 16, 16), seed=0)
    whole = upsampled(inner, 48)                                        # round 11: writes the shrunk picture back
    change = upsampled(small, 48, write="change")                       # round 12 (pixel mode): only the change
    with torch.no_grad():
        whole.set_image(whole.image())
        change.set_image(change.image())
    # writing the picture itself back blurs the canvas by the enlarge-and-shrink round trip; the change is zero
    assert float((inner.image().detach() - before).abs().mean()) > 0.01  # exact: the round trip of 0.1-std noise
    assert float((small.image().detach() - before).abs().max()) < 1e-6  # exact: float rounding only
    with torch.no_grad():                                               # a real projection still reaches it
        change.set_image(change.image().clamp(0.45, 0.55))
    assert float(small.image().detach().max()) < float(before.max()) - 0.05  # exact: the bright pixels came down
    with pytest.raises(ValueError, match="write must be 'image' or 'change'"):
        upsampled(small, 48, write="both")


def test_pixel_mode_canvas_writes_changes_and_decorrelates_on_request():
    from vizlab.optimize import pixels

    param, *_ = build(torch.nn.Identity(), preset("pixels_robust", size=48, canvas=16, centre=0.0))
    assert param.name == "pixels+upsampled" and param.image().shape[-1] == 48  # exact
    with torch.no_grad():
        param.params[0].mul_(0.1)  # a canvas well inside [0, 1], so the clamp has nothing to pull back
        start = param.params[0].detach().clone()
        param.set_image(param.image())
    assert torch.allclose(param.params[0], start, atol=1e-5)  # exact: write="change" in the pixel mode
    from vizlab.optimize.transforms import Scale

    def widest_scale(settings):
        _, transforms, _, _ = build(torch.nn.Identity(), settings)
        return max(max(t.factors) for t in transforms[0].transforms if isinstance(t, Scale))

    # the pixel mode's random scale/rotation follows `transforms` (it used to ignore it)
    assert widest_scale(preset("pixels_robust", size=32, transforms="strong")) > widest_scale(preset("pixels_robust", size=32))  # exact
    plain = pixels((1, 3, 32, 32), seed=0, noise=1.0)
    mixed = pixels((1, 3, 32, 32), seed=0, noise=1.0, decorrelate=True)
    assert mixed.name == "pixels+decorrelated"  # exact
    # the same noise mixed by the photos' colour covariance: most of it is brightness, little is colour
    def colour(param):  # each pixel minus its grey level: the colour part
        x = param.image().detach()
        return float((x - x.mean(dim=1, keepdim=True)).std())

    assert colour(mixed) < 0.5 * colour(plain)  # exact: a fixed matrix on seed-0 noise (measured ratio 0.31)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        mixed.set_image(x)
    assert torch.allclose(mixed.image(), x, atol=1e-5)  # exact: set_image inverts the mixing
    again = pixels(init=x, decorrelate=True, centre=(0.4, 0.5, 0.6), scale=(0.2, 0.3, 0.25))
    assert torch.allclose(again.image(), x, atol=1e-5)  # exact
    # build passes the setting on in the pixel mode (it used to ignore it)
    assert build(torch.nn.Identity(), preset("pixels_robust", size=32, decorrelate=True))[0].name == "pixels+decorrelated"  # exact
    with pytest.raises(TypeError, match="decorrelate must be True or False"):
        pixels((1, 3, 8, 8), decorrelate="yes")


def test_canvas_clamp_writes_only_its_change_and_keeps_pixels_in_range():
    from vizlab.optimize import pixels
    from vizlab.optimize.params import upsampled, windowed

    # a canvas value outside [0, 1]: the clamp of the enlarged image pulls it back, although the image it shows
    # is already clamped (the change is taken from the enlargement before its clamp)
    small = pixels((1, 3, 8, 8), seed=0, noise=0.0)
    with torch.no_grad():
        small.params[0][:, :, 2:6, 2:6] = 0.9  # canvas value 0.5 + 0.9 = 1.4
        big = upsampled(small, 24, write="change")
        assert float(big.image().max()) <= 1.0  # exact
        big.set_image(big.image().clamp(0, 1))
    assert float(small.image().max()) < 1.25  # exact: 1.4 came down (1.14; before the fix it stayed at 1.4)
    # the pixel mode with a window (plain pixels behind it): a clamp after a large step leaves every pixel of
    # the picture inside [0, 1], also at the window's soft edge
    param, *_ = build(torch.nn.Identity(), preset("pixels_robust", size=48, centre=0.3))
    with torch.no_grad():
        param.params[0].mul_(25.0)
        assert float(param.image().max()) > 1.5  # exact: the large step left the range
        param.set_image(param.image().clamp(0, 1))
        shown = param.image()
    assert float(shown.min()) >= 0 and float(shown.max()) <= 1 + 1e-6  # exact


def test_canvas_leaves_no_detail_finer_than_the_view(tiny):
    from vizlab.optimize import frequency_energy

    settings = preset("maco", size=64, view=32, steps=2)
    full, *_ = build(tiny, settings, seed=0)
    small, *_ = build(tiny, replace_canvas(settings, 32), seed=0)
    assert small.params[0].shape[-2] == 32 and small.image().shape[-1] == 64  # exact: 32-px canvas, 64-px image
    # above the 32-px view's Nyquist (0.25 cycles per pixel of the 64-px image) MACO's full-size canvas starts
    # with a photo's share of energy, which the model never sees and so never changes; the enlarged canvas has
    # almost none (measured 0.061 and 0.006)
    assert frequency_energy(full.image(), 0.25) > 5 * frequency_energy(small.image(), 0.25)  # exact: resampling
    r = class_visualization(tiny, 1, replace_canvas(settings, 32), progress=False)
    assert r.image.shape == (1, 3, 64, 64) and r.info["settings"].canvas == 32  # exact
    with pytest.raises(ValueError, match="canvas must be 0"):
        preset("object", canvas=8)
    # a canvas larger than the image is the image's size (the default's 128 with a smaller size: no enlargement)
    big, *_ = build(tiny, replace_canvas(settings, 300), seed=0)
    assert big.params[0].shape[-2] == 64 and big.image().shape[-1] == 64  # exact
    with pytest.raises(TypeError, match="canvas must be an int"):
        preset("object", canvas=128.0)


def replace_canvas(settings, canvas):

    return replace(settings, canvas=canvas)


def test_lite1_loads_offline_and_joins_an_ensemble(model):
    import vizlab

    lite1 = vizlab.load_model("efficientnet_lite1")
    assert lite1.input_size == 240 and "lite1" in lite1.weights  # exact
    assert lite1.predict("cat", k=1)[0][0] == "Egyptian cat"  # exact: the top class name
    r = class_visualization(model, "goldfish", preset("fourier", size=64, steps=2, ensemble=("efficientnet_lite1",)),
                            progress=False)
    lite0_blocks = sum(1 for m in model.modules() if getattr(m, "has_skip", False))
    assert r.info["ghost_blocks"] > lite0_blocks  # exact: both members' residual branches were ghosted


# -- the blind scorer ----------------------------------------------------------------------------------------
def test_matcher_counts_synonyms_plurals_and_the_basic_level():
    strict, basic = blind.accept_lists("tarantula")
    assert blind.first_hit(["a hairy crab", "Tarantulas on a rock"], strict) == 2  # exact
    assert blind.first_hit(["big spiders"], strict) is None and blind.first_hit(["big spiders"], basic) == 1
    assert blind.first_hit(["red peppers"], blind.accept_lists("bell pepper")[0]) == 1  # exact
    assert not blind.matches("lemonade stand", ["lemon"])  # exact: whole words only
    assert blind.first_hit(["x", "x", "x", "x", "x", "goldfish"], blind.accept_lists("goldfish")[0]) is None
    strict, basic = blind.accept_lists("American black bear")  # a class without a hand-written list
    assert blind.matches("an American black bear", strict) and blind.matches("a bear", basic)  # exact


def test_fresh20_classes_are_imagenet_names_with_accept_lists(model):
    assert len(set(blind.FRESH20)) == 20 and not set(blind.FRESH20) & set(blind.ISSUE_CLASSES)  # exact
    for cls in blind.FRESH20:
        assert cls in model.categories and cls in blind.ACCEPT  # exact
        assert blind.matches(cls, blind.accept_lists(cls)[0])  # exact: the class's own name is accepted
    assert blind.first_hit(["a red fire truck"], blind.accept_lists("fire engine")[0]) == 1  # exact
    assert blind.first_hit(["strawberries"], blind.accept_lists("strawberry")[0]) == 1  # exact
    assert blind.first_hit(["a yellow bus"], blind.accept_lists("school bus")[0]) is None  # exact: basic level only
    assert blind.first_hit(["a yellow bus"], blind.accept_lists("school bus")[1]) == 1  # exact


def test_score_reads_answers_and_counts_per_recipe(tmp_path, capsys):
    entries = [dict(image="img00.png", recipe="maco", cls="flamingo", lite2_rank=1, seconds=1.0),
               dict(image="img01.png", recipe="maco", cls="lemon", lite2_rank=9, seconds=2.0)]
    key = tmp_path / "key.json"
    key.write_text(json.dumps(dict(folder="x", entries=entries)))
    answers = tmp_path / "answers.txt"
    answers.write_text("img00: pink birds; flamingo; heron; coral; shrimp\n**img01**: a yellow ball; lime; sun\n")
    out = tmp_path / "scored.json"
    blind.main(["score", "--key", str(key), "--guesses", str(answers), "--json", str(out)])
    text = capsys.readouterr().out
    assert "**maco**: blind top-1 0/2, top-5 1/2 (basic level: top-1 0, top-5 2)" in text
    rows = json.loads(out.read_text())
    assert [r["strict_hit"] for r in rows] == [2, None] and rows[1]["basic_hit"] == 2  # exact


def test_merge_joins_the_keys_of_a_set_rendered_in_parts(tmp_path):
    a = dict(folder="f", entries=[dict(image="img01.png", cls="lemon"), dict(image="img03.png", cls="pizza")])
    b = dict(folder="f", entries=[dict(image="img00.png", cls="volcano"), dict(image="img03.png", cls="pizza")])
    for name, key in (("a.json", a), ("b.json", b)):
        (tmp_path / name).write_text(json.dumps(key))
    blind.main(["merge", "--keys", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out",
                str(tmp_path / "k.json")])
    merged = json.loads((tmp_path / "k.json").read_text())
    assert [e["image"] for e in merged["entries"]] == ["img00.png", "img01.png", "img03.png"]  # exact: one each
    b["entries"][1]["cls"] = "lemon"  # the same slot with another class: two different orders, refused
    (tmp_path / "b.json").write_text(json.dumps(b))
    with pytest.raises(SystemExit, match="different classes"):
        blind.main(["merge", "--keys", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out",
                    str(tmp_path / "k.json")])


def test_reshuffle_copies_a_set_under_new_names_for_a_second_viewer(tmp_path):
    first = tmp_path / "first"
    first.mkdir()
    entries = []
    for k, cls in enumerate(["lemon", "pizza", "volcano", "jellyfish"]):
        (first / f"img{k:02d}.png").write_bytes(cls.encode())   # each file's bytes name its class
        entries.append(dict(image=f"img{k:02d}.png", cls=cls))
    (tmp_path / "key.json").write_text(json.dumps(dict(folder=str(first), entries=entries)))
    second, new_key = tmp_path / "second", tmp_path / "keys" / "second.json"
    blind.main(["reshuffle", "--key", str(tmp_path / "key.json"), "--out", str(second), "--new-key", str(new_key),
                "--seed", "3"])
    key = json.loads(new_key.read_text())
    assert key["folder"] == str(second) and key["shuffle_seed"] == 3  # exact
    assert sorted(e["cls"] for e in key["entries"]) == ["jellyfish", "lemon", "pizza", "volcano"]  # exact
    for e in key["entries"]:   # the new name holds the picture of the class its key says
        assert (second / e["image"]).read_bytes() == e["cls"].encode()  # exact
        assert (first / e["renamed_from"]).read_bytes() == e["cls"].encode()  # exact
    assert [e["renamed_from"] for e in key["entries"]] != [e["image"] for e in key["entries"]]  # exact: shuffled
    with pytest.raises(SystemExit, match="already has images"):
        blind.main(["reshuffle", "--key", str(tmp_path / "key.json"), "--out", str(second), "--new-key",
                    str(tmp_path / "k2.json"), "--seed", "4"])
    with pytest.raises(SystemExit, match="must not be inside"):
        blind.main(["reshuffle", "--key", str(tmp_path / "key.json"), "--out", str(tmp_path / "third"),
                    "--new-key", str(tmp_path / "third" / "k.json"), "--seed", "4"])


def test_image_grid_writes_captions_under_the_images():
    from vizlab.plotting import image_grid

    fig = image_grid([torch.rand(3, 8, 8), torch.rand(3, 8, 8)], captions=["flamingo", "goldfish"], size=2)
    texts = [t for ax in fig.axes for t in ax.texts]
    assert [t.get_text() for t in texts] == ["flamingo", "goldfish"]  # exact
    assert all(t.get_position()[1] < 0 for t in texts)  # exact: below the image
    with pytest.raises(ValueError, match="captions has 1 entries for 2 images"):
        image_grid([torch.rand(3, 8, 8), torch.rand(3, 8, 8)], captions=["x"])


def test_proxy_agreement_counts_each_rule(tmp_path, capsys):
    base = dict(lite2_grey_rank=1, lite2_blur_rank=1, lite2_small_rank=1, spectrum_distance=0.2)
    rows = [dict(base, guesses=["a"], strict_hit=1, basic_hit=1, lite2_rank=1),
            dict(base, guesses=["b"], strict_hit=None, basic_hit=None, lite2_rank=3),
            dict(base, guesses=["c"], strict_hit=4, basic_hit=4, lite2_rank=50)]
    scored = tmp_path / "scored.json"
    scored.write_text(json.dumps(rows))
    blind.main(["proxy", "--scored", str(scored)])
    text = capsys.readouterr().out
    assert "3 images, blind top-5 hits: 2" in text
    assert "| (always pass) | base rate | 2/3 (67%) | 2 | 1 | 0 |" in text
    # rank <= 5 passes images 1 and 2: agrees on image 1 only (2 is not named, 3 is named but fails)
    assert "| lite2_rank | rank <= 5 | 1/3 (33%) | 1 | 1 | 1 |" in text
    blind.main(["proxy", "--scored", str(scored), "--top1"])
    assert "| lite2_rank | rank <= 1 | 3/3 (100%) | 1 | 0 | 0 |" in capsys.readouterr().out


def test_agreement_and_the_proxy_helpers():
    # two named images, two not: a rule that passes everything agrees on 2 of 4 with balanced accuracy 0.5
    truth = [True, True, False, False]
    assert blind.agreement([True] * 4, truth) == (2, 0.5, 2, 2, 0)  # exact
    assert blind.agreement([True, False, False, False], truth) == (3, 0.75, 1, 0, 1)  # exact
    import proxy24

    grey = np.full((8, 8, 3), 128, np.uint8)
    red = grey.copy()
    red[:4, :, 0], red[:4, :, 1:] = 255, 0
    assert proxy24.colourfulness(grey) == 0.0 and proxy24.colourfulness(red) > 50  # exact: hand-computable
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert proxy24.degrade(x, "plain") is x  # exact
    tiny = proxy24.degrade(x, "tiny")
    assert tiny.shape == x.shape and tiny.std() < 0.5 * x.std()  # exact: 32 px and back removes the noise
    with pytest.raises(ValueError, match="kind must be"):
        proxy24.degrade(x, "sepia")


# -- diversity: several different images of one unit ---------------------------------------------------------
def test_diversity_is_minus_one_for_identical_images_and_zero_for_one():
    from vizlab.optimize import Context, diversity

    a = torch.rand(1, 4, 5, 5, generator=torch.Generator().manual_seed(0))
    same = Context(torch.zeros(2, 3), {"x": a.expand(3, 4, 5, 5)})
    assert float(diversity("x")(same)) == pytest.approx(-1.0, abs=1e-5)  # exact: cosine of equal Grams
    assert float(diversity("x")(Context(torch.zeros(1, 3), {"x": a}))) == 0.0  # exact
    other = torch.zeros(1, 4, 5, 5)
    other[:, 0] = 1.0  # only channel 0 active: its Gram is orthogonal to one with only channel 1 active
    other2 = torch.zeros(1, 4, 5, 5)
    other2[:, 1] = 1.0
    assert float(diversity("x")(Context(torch.zeros(2, 3), {"x": torch.cat([other, other2])}))) == 0.0  # exact
    with pytest.raises(ValueError, match="spatial layer"):
        diversity("x")(Context(torch.zeros(2, 3), {"x": torch.rand(2, 4)}))


def test_diversity_term_makes_a_batch_of_channel_images_less_alike():
    # measured 0.68-0.70 for seeds 0-2 (the same images without the term are alike: similarity 0.99999)
    assert diversity_ratio(0) < 0.9  # claim: test diversity: Gram similarity with / without the term


def test_default_mode_is_the_object_recipe():
    """Issue 24 rounds 9, 11, 12, 16 and 17: with neither settings nor mode, class_visualization uses OBJECT (MACO,
    centre prior with a random ground per step, 128-px view and canvas, 100 steps; a second run on the plain ground
    where the view's p stays below 0.5), with a Lite1 + Lite2 ensemble for an ImageNet classifier (OBJECT_ENSEMBLE3)
    and alone for any other model (Lite1 and Lite2 cannot co-judge other classes)."""
    from vizlab.optimize import OBJECT, class_visualization
    from vizlab.optimize.classviz import DEFAULT_MODE, default_mode, preset

    assert DEFAULT_MODE == "object_ensemble3_detail" and preset("object") == OBJECT  # exact
    assert (OBJECT.maco, OBJECT.centre, OBJECT.view, OBJECT.steps, OBJECT.size, OBJECT.canvas, OBJECT.backdrop,
            OBJECT.retry_plain) == (True, 0.3, 128, 100, 224, 128, True, 0.5)  # exact
    tiny = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    r = class_visualization(tiny, 1, size=32, steps=2, view=16, progress=False)
    assert r.info["settings"] == preset("object", size=32, steps=2, view=16) and default_mode(tiny) == "object"  # exact
    assert class_visualization(tiny, 1, OBJECT, mode="object", size=32, steps=1, view=16, progress=False).steps == 1  # exact
    with pytest.raises(ValueError, match="mode"):
        class_visualization(tiny, 1, mode="objects", size=32, steps=1, progress=False)


# -- round 14: the zoomed-out second copy (the whole object must score, not only a part) ----------------------
def test_zoom_out_adds_a_small_copy_in_the_middle_of_its_ground():
    import random

    import torch.nn.functional as F

    from vizlab.optimize import ZoomOut

    x = torch.full((1, 3, 64, 64), 0.2)
    x[..., 16:48, 16:48] = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    out = ZoomOut(0.5, 0.5)(x, random.Random(0))
    assert out.shape == (2, 3, 64, 64)  # exact: the image, then its zoomed-out copy
    assert torch.equal(out[:1], x)  # exact: the first copy is the image itself
    small = F.interpolate(x.detach(), size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    torch.testing.assert_close(out[1:, :, 16:48, 16:48], small)  # the whole image, half size, in the middle
    ring = torch.ones(64, 64, dtype=torch.bool)
    ring[16:48, 16:48] = False
    torch.testing.assert_close(out[1][:, ring], torch.full_like(out[1][:, ring], 0.2))  # the ground repeated
    only = ZoomOut(0.5, 0.5, keep=False)(x, random.Random(0))
    assert only.shape == (1, 3, 64, 64) and torch.equal(only, out[1:])  # exact: keep=False: the copy alone
    out[1].sum().backward()
    assert float(x.grad[..., 16:48, 16:48].abs().sum()) > 0  # exact: the small copy's gradient reaches the image
    sides = set()
    bright = torch.zeros(1, 3, 100, 100)
    bright[..., 10:90, 10:90] = 1.0     # a dark 10-px frame (the copy's border repeats it) around a bright square
    for s in range(40):   # the shrunk side, measured in the output, is drawn inside [smallest, largest] of the side
        y = ZoomOut(0.4, 0.6)(bright, random.Random(s))
        assert y.shape == (2, 3, 100, 100)  # exact
        span = float(y[1, 0, 50].sum())          # the bright square shrinks with the image: 80 px times the fraction
        sides.add(round(span / 0.8))
    assert min(sides) >= 39 and max(sides) <= 61 and len(sides) > 5  # exact
    with pytest.raises(ValueError, match="smallest must be <= largest, got smallest=0.7, largest=0.5"):
        ZoomOut(0.7, 0.5)
    with pytest.raises(ValueError, match="largest must be a finite number > 0 and < 1, got 1.0"):
        ZoomOut(0.5, 1.0)
    with pytest.raises(TypeError, match="smallest must be a finite number > 0 and < 1, got str"):
        ZoomOut("0.5", 0.6)
    with pytest.raises(TypeError, match="keep must be a bool"):
        ZoomOut(0.5, 0.6, keep=1)


def test_whole_setting_shows_the_model_the_view_and_its_zoomed_out_copy(tiny):
    from vizlab.optimize import OBJECT, ZoomOut

    small_default = replace(OBJECT, size=32, view=24, canvas=0)   # the default's transforms at a test's size
    default_transforms = build(tiny, small_default, seed=0)[1]
    assert OBJECT.whole == 0 and not any(isinstance(t, ZoomOut) for t in default_transforms)  # exact
    settings = preset("maco", size=32, steps=2, centre=0.3, view=24, whole=0.5)
    transforms = build(tiny, settings, seed=0)[1]
    assert isinstance(transforms[-1], ZoomOut) and transforms[-1].largest == 0.5  # exact: after the view's resize
    batches = []
    hook = tiny.register_forward_hook(lambda m, inputs, out: batches.append(tuple(inputs[0].shape)))
    try:
        r = class_visualization(tiny, 1, settings, progress=False)
    finally:
        hook.remove()
    assert batches[:2] == [(2, 3, 24, 24)] * 2  # exact: every step scores both copies at the view's side
    assert r.image.shape == (1, 3, 32, 32)  # exact: one image comes out
    alone = replace(settings, whole_only=True)
    assert build(tiny, alone, seed=0)[1][-1].keep is False  # exact
    batches.clear()
    hook = tiny.register_forward_hook(lambda m, inputs, out: batches.append(tuple(inputs[0].shape)))
    try:
        class_visualization(tiny, 1, alone, progress=False)
    finally:
        hook.remove()
    assert batches[:2] == [(1, 3, 24, 24)] * 2  # exact: whole_only: the zoomed-out copy alone
    with pytest.raises(TypeError, match="whole_only must be a bool"):
        preset("object", whole=0.5, whole_only="yes")
    with pytest.raises(ValueError, match="whole_only needs whole > 0"):
        preset("object", whole_only=True)
    with pytest.raises(ValueError, match="whole must be a finite number >= 0 and < 1, got 1.2"):
        preset("object", whole=1.2)
    with pytest.raises(ValueError, match="whole=0.5 needs centre > 0"):
        preset("pixels_robust", whole=0.5)
    with pytest.raises(ValueError, match="whole must be 0"):
        preset("object", whole=0.05)
    with pytest.raises(TypeError, match="whole must be a finite number >= 0 and < 1, got str 'big'"):
        preset("object", whole="big")


def test_object_ensemble3_adds_lite2_and_judges_the_retry_by_all_members(model):
    """Issue 24 round 17: the preset ``"object_ensemble3"`` (the default for ImageNet classifiers since round 17's
    blind draw) is round 16's OBJECT_ENSEMBLE with Lite2 as a third member and the plain-ground second run judged by the least sure member; it is exactly the recipe that the blind
    draw of round 17 rendered (``blind.py``'s ``canvas_retry_ensemble3_members``), and renders with three members."""
    from vizlab.optimize import OBJECT_ENSEMBLE, OBJECT_ENSEMBLE3
    from vizlab.optimize.classviz import ensemble_member, view_probability

    assert preset("object_ensemble3") == OBJECT_ENSEMBLE3 == replace(
        OBJECT_ENSEMBLE, ensemble=("efficientnet_lite1", "efficientnet_lite2"), retry_judge="members")  # exact
    assert blind.recipe_settings("canvas_retry_ensemble3_members") == OBJECT_ENSEMBLE3  # exact: what was judged
    assert blind.recipe_settings("canvas_retry_ensemble") == OBJECT_ENSEMBLE  # exact: the default it was paired with
    small = dict(size=64, steps=2, view=32, canvas=32)
    r = class_visualization(model, "lemon", mode="object_ensemble3", retry_plain=1.0, progress=False, **small)
    target = model.class_index("lemon")
    first = class_visualization(model, "lemon", preset("object_ensemble3", retry_plain=0.0, **small), progress=False)
    members = [model, ensemble_member("efficientnet_lite1", "cpu"), ensemble_member("efficientnet_lite2", "cpu")]
    assert r.info["retry"]["random"] == pytest.approx(
        min(view_probability(m, first.image, target, 32) for m in members))  # exact: the least sure of three
    assert r.info["retry"]["judge"] == "members"  # exact
    # r17 review: a mode naming another ensemble than the settings' was silently run with the settings'
    for mode, settings in (("object_ensemble3", OBJECT_ENSEMBLE), ("object_ensemble", OBJECT_ENSEMBLE3)):
        with pytest.raises(ValueError, match=f"mode='{mode}' disagrees"):
            class_visualization(model, "lemon", settings, mode=mode, progress=False, **small)


def test_object_ensemble_preset_is_the_default_scored_by_lite0_and_lite1(tiny, model):
    """Issue 24 round 16: the preset ``"object_ensemble"`` (the default for ImageNet classifiers from round 16's
    confirmatory blind draw until round 17's) is OBJECT (its plain-ground retry included) with the Lite1 ensemble; its mode agrees
    only with MACO settings that have an ensemble."""
    from vizlab.optimize import OBJECT, OBJECT_ENSEMBLE
    from vizlab.optimize.classviz import default_mode

    assert preset("object_ensemble") == OBJECT_ENSEMBLE == replace(OBJECT, ensemble=("efficientnet_lite1",))  # exact
    assert OBJECT_ENSEMBLE.retry_plain == 0.5 and OBJECT.ensemble == ()  # exact
    assert default_mode(model) == "object_ensemble3_detail" and default_mode(tiny) == "object"  # exact
    small = replace(OBJECT_ENSEMBLE, size=32, canvas=32, view=32, steps=1, retry_plain=0.0)
    r = class_visualization(model, "goldfish", small, mode="object_ensemble", progress=False)
    plain = class_visualization(model, "goldfish", size=32, canvas=32, view=32, steps=1, retry_plain=0.0,
                                progress=False)   # no mode, an ImageNet classifier: the three-network ensemble
    assert plain.info["settings"] == replace(small, ensemble=("efficientnet_lite1", "efficientnet_lite2"),
                                             retry_judge="members", detail_steps=25, detail_view=0,
                                             detail_lr=0.15)  # exact: with round 19's detail stage
    assert plain.info["detail"]["steps"] == 0  # exact: 32 px is the canvas's side, no finer side: skipped
    lite0_blocks = sum(1 for m in model.modules() if getattr(m, "has_skip", False))
    assert r.image.shape == (1, 3, 32, 32) and r.info["ghost_blocks"] > lite0_blocks  # exact: Lite1 joined
    with pytest.raises(ValueError, match="disagrees"):   # no ensemble: not this mode
        class_visualization(tiny, 0, replace(small, ensemble=()), mode="object_ensemble", progress=False)
    with pytest.raises(ValueError, match="disagrees"):   # pixels: not this mode
        class_visualization(tiny, 0, preset("cs231n", size=32, steps=1), mode="object_ensemble", progress=False)
    with pytest.raises(ValueError, match="object_ensemble"):   # the error names the allowed modes
        class_visualization(tiny, 0, mode="ensemble", progress=False)


def test_round16_draw_has_accept_lists_written_for_every_class(model):
    """The scored random 20 of round 16 (seed 12009) has a hand-written accept list for every class, each
    accepting the class's own name, none of them in round 16's development draw (seed 16016)."""
    import random

    drawn = [model.categories[i] for i in random.Random(blind.RANDOM_SEED_R16).sample(range(1000), 20)]
    dev = {model.categories[i] for i in random.Random(16016).sample(range(1000), 10)}
    assert not set(drawn) & dev  # exact
    for cls in drawn:
        assert cls in blind.ACCEPT and blind.matches(cls, blind.accept_lists(cls)[0])  # exact
    assert blind.first_hit(["a dromedary"], blind.accept_lists("Arabian camel")[0]) == 1  # exact
    assert blind.first_hit(["sheep"], blind.accept_lists("ram")[0]) is None  # exact: basic level only
    assert blind.first_hit(["sheep"], blind.accept_lists("ram")[1]) == 1  # exact


def test_round16_confirm_draw_has_accept_lists_written_for_every_class(model):
    """The confirmatory random 20 of round 16 (seed 18962) is a fresh draw, different from round 16's (12009), and
    every class has a hand-written accept list that accepts its own name."""
    import random

    drawn = [model.categories[i] for i in random.Random(blind.RANDOM_SEED_R16C).sample(range(1000), 20)]
    earlier = [model.categories[i] for i in random.Random(blind.RANDOM_SEED_R16).sample(range(1000), 20)]
    assert not set(drawn) & set(earlier)  # exact
    for cls in drawn:
        assert cls in blind.ACCEPT and blind.matches(cls, blind.accept_lists(cls)[0])  # exact
    assert blind.first_hit(["dark glasses"], blind.accept_lists("sunglasses")[0]) == 1  # exact
    assert blind.first_hit(["a cupcake"], blind.accept_lists("cup")[0]) is None  # exact: whole words only
    assert blind.first_hit(["dog", "dingo"], blind.accept_lists("dingo")[0]) == 2  # exact


def test_round17_draw_has_accept_lists_written_for_every_class(model):
    """The scored random 20 of round 17 (seed 50719) shares no class with its development draw (seed 17017), and
    every class has a hand-written accept list that accepts its own name (ImageNet's "jean" is the blue jeans)."""
    import random

    drawn = [model.categories[i] for i in random.Random(blind.RANDOM_SEED_R17).sample(range(1000), 20)]
    dev = [model.categories[i] for i in random.Random(17017).sample(range(1000), 10)]
    assert not set(drawn) & set(dev)  # exact
    for cls in drawn:
        assert cls in blind.ACCEPT and blind.matches(cls, blind.accept_lists(cls)[0])  # exact
    assert blind.first_hit(["trousers", "blue jeans"], blind.accept_lists("jean")[0]) == 2  # exact
    assert blind.first_hit(["washing machine"], blind.accept_lists("washer")[0]) == 1  # exact
    assert blind.first_hit(["lobster"], blind.accept_lists("spiny lobster")[0]) is None  # exact: basic level only


def test_round19_photo_classes_have_accept_lists_written_for_every_class(model):
    """Round 19's photo ceiling: the classes of foolbox 3.3.4's ImageNet photos (class indices from its file names)
    each have a hand-written accept list that accepts its own name; a plain "eagle" or "deck chair" is basic level."""
    indices = [243, 559, 438, 990, 949, 853, 609, 915, 455, 541, 630, 741, 471, 129, 99, 251, 22, 317, 305]
    for cls in (model.categories[i] for i in indices):
        assert cls in blind.ACCEPT and blind.matches(cls, blind.accept_lists(cls)[0])  # exact
    assert blind.first_hit(["a thatched cottage"], blind.accept_lists("thatch")[0]) == 1  # exact
    assert blind.first_hit(["Canada geese"], blind.accept_lists("goose")[0]) == 1  # exact
    strict, basic = blind.accept_lists("bald eagle")
    assert blind.first_hit(["eagle"], strict) is None and blind.first_hit(["eagle"], strict + basic) == 1  # exact
    strict, basic = blind.accept_lists("folding chair")
    assert blind.first_hit(["deck chair"], strict) is None and blind.first_hit(["deck chair"], basic) == 1  # exact


def test_the_cs231n_preset_is_the_recipe_judged_blind_in_round_16():
    """Issue 24 round 16: ``CS231N`` is ``blind.py``'s ``cs231n_r16_ens_retry``; the earlier recipes keep the pixel
    preset they were judged with (``PIXELS_ROBUST``)."""
    from vizlab.optimize import CS231N, PIXELS_ROBUST

    assert blind.recipe_settings("cs231n_r16_ens_retry") == CS231N  # exact
    assert blind.recipe_settings("cs231n_r15_s300") == replace(PIXELS_ROBUST, **blind.RECIPES["cs231n_r15_s300"][1])  # exact
    assert CS231N.ensemble == ("efficientnet_lite1",) and CS231N.retry_plain == 0.5 and CS231N.rescale  # exact
    assert preset("cs231n") == CS231N and preset("pixels_robust") == PIXELS_ROBUST  # exact


def test_an_ensemble_preset_on_a_model_with_other_classes_says_to_drop_the_ensemble(tiny):
    from vizlab.optimize.classviz import default_mode

    """CS231N (round 16) and OBJECT_ENSEMBLE add Lite1 to the score; a model with other classes used to fail in
    torch.stack with a shape error deep in the loop."""
    with pytest.raises(ValueError, match=r"ensemble=\(\)"):
        class_visualization(tiny, 0, preset("cs231n", size=32, canvas=32, view=32, steps=1), progress=False)
    r = class_visualization(tiny, 0, preset("cs231n", size=32, canvas=32, view=32, steps=1, ensemble=()),
                            progress=False)
    assert r.image.shape == (1, 3, 32, 32)  # exact
    from vizlab.toy import tiny_cnn
    named = tiny_cnn(seed=0)
    named.categories = [f"shape {k}" for k in range(10)]   # a model with class names of its own
    assert default_mode(named) == "object"  # exact
    with pytest.raises(ValueError, match=r"share their class names.*ensemble=\(\)"):
        class_visualization(named, 0, preset("cs231n", size=32, canvas=32, view=32, steps=1), progress=False)
    assert class_visualization(named, 0, mode="pixels_robust", size=32, steps=1,
                               progress=False).steps == 1  # exact: every preset is a mode


def test_blind_reader_ignores_the_viewers_notes_and_reshuffle_names_its_source(tmp_path):
    # r17 review: a viewer's "# what I saw" was read as part of guess 5 (a basic-level hit came from "bird" in a
    # note), and reshuffle's key did not say whose PNGs it holds (the proxy table could not find them)
    import argparse
    import json

    answers = tmp_path / "answers.md"
    answers.write_text("img00: purple swamphen; cassowary; turkey; macaw; peacock # blue bird head, red beak\n"
                       "img01: tarantula # a hairy spider\n")
    got = blind.read_guesses(answers)
    assert got == {"img00.png": ["purple swamphen", "cassowary", "turkey", "macaw", "peacock"],
                   "img01.png": ["tarantula"]}  # exact
    first = tmp_path / "set_a"
    (first / "images").mkdir(parents=True)
    for name in ("img00.png", "img01.png"):
        (first / "images" / name).write_bytes(b"png")
    (first / "key.json").write_text(json.dumps(dict(folder=str(first / "images"), entries=[
        dict(image="img00.png", cls="zebra"), dict(image="img01.png", cls="tarantula")])))
    new_key = tmp_path / "set_b" / "key.json"
    blind.reshuffle(argparse.Namespace(key=str(first / "key.json"), out=str(tmp_path / "queue"),
                                       new_key=str(new_key), seed=3))
    key = json.loads(new_key.read_text())
    assert key["images_of"] == first.as_posix()  # exact
    assert sorted(e["renamed_from"] for e in key["entries"]) == ["img00.png", "img01.png"]  # exact


def test_shrinking_transforms_narrow_from_strong_to_standard_over_the_run(tiny):
    import random

    from vizlab.optimize.transforms import Compose, Shrinking, Transform, shrinking

    t = shrinking(16)
    assert t.ranges() == (16, 0.25, 20.0)   # before any step: the start's ranges
    t.at_step(0, 100)
    assert t.ranges() == (16, 0.25, 20.0)
    t.at_step(99, 100)
    assert t.ranges() == (8, 0.1, 10.0)   # the last step: standard's
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    spread = {}
    for step in (0, 99):
        t.at_step(step, 100)
        sides = [t(x, random.Random(s)).shape[-1] for s in range(40)]
        spread[step] = max(sides) - min(sides)
    assert spread[0] > spread[99]   # exact: a narrower range of scales late
    assert t.pad.pixels == 16   # exact: the padding stays the start's at every step (the docstrings say so)
    # ... on the output: no scale or angle, the jitter shrinking to 0, and the image still padded 16 px a side
    fixed = Shrinking((16, 0, 0), (0, 0, 0))
    for step in (0, 50, 99):
        fixed.at_step(step, 100)
        assert fixed(x, random.Random(step)).shape[-2:] == (96, 96)   # exact
    with pytest.raises(ValueError, match="start must be"):
        Shrinking((16, 0.25), (8, 0.1, 10.0))
    with pytest.raises(ValueError, match="scale half-width"):
        Shrinking((16, 1.5, 20.0), (8, 0.1, 10.0))

    # render tells a scheduled transform every step (through a Compose too), and the preset builds one
    seen = []

    class Recorder(Transform):
        def at_step(self, step, total):
            seen.append((step, total))

        def __call__(self, x, rng):
            return x

    render(tiny, class_logit(1), steps=3, size=16, transforms=Compose([Recorder()]), seed=0, progress=False)
    assert seen == [(0, 3), (1, 3), (2, 3)]  # exact
    s = preset("object", transforms="shrinking", jitter=16, size=32, view=32, canvas=32, steps=2,
               retry_plain=0.0)
    _, transforms, _, _ = build(tiny, s, seed=0)
    assert any(isinstance(t, Shrinking) for t in transforms)  # exact
    r = class_visualization(tiny, 1, s, progress=False)
    assert r.image.shape == (1, 3, 32, 32)  # exact


def test_round18_candidate_is_the_default_with_shrinking_transforms():
    """The recipe frozen for round 18's blind test: OBJECT_ENSEMBLE3 with the robustness shrinking over the steps."""
    from vizlab.optimize.classviz import OBJECT_ENSEMBLE3

    s = blind.recipe_settings("canvas_retry_ensemble3_shrink")
    assert s == replace(OBJECT_ENSEMBLE3, transforms="shrinking", jitter=16)  # exact: what is judged
    assert preset("object_ensemble3_shrink") == s  # exact: the opt-in preset is the judged recipe


def test_shrinking_and_pad_refuse_bad_input_naming_the_argument():
    from vizlab.optimize.transforms import Pad, Shrinking

    for bad, err in ((16, TypeError), (None, TypeError), ("16, 0.2, 5", TypeError)):
        with pytest.raises(err, match=r"start must be .*jitter pixels, scale half-width, degrees"):
            Shrinking(start=bad)
        with pytest.raises(err, match=r"end must be .*jitter pixels, scale half-width, degrees"):
            Shrinking(end=bad)
    for bad, err in (("grey", TypeError), (float("nan"), ValueError), (float("inf"), ValueError), (True, TypeError)):
        with pytest.raises(err, match="pad_value"):
            Shrinking(pad_value=bad)
        with pytest.raises(err, match="value"):
            Pad(4, "constant", bad)
