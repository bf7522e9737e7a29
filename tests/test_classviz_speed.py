"""Issue 24 item 3's time budget (round 18): the faster paths of the class image compute the same numbers.

A ghost network skips a dropped residual branch instead of computing it and multiplying it by zero, and an
ensemble runs its members on worker threads; both must give the sequential, compute-everything path's logits,
gradients and images to the bit, and leave no thread, hook or patched ``forward`` behind.
"""
from __future__ import annotations

import copy
import threading

import pytest
import torch
from torch import nn

from vizlab.optimize import Ensemble, class_logit, render
from vizlab.optimize.classviz import build, class_visualization, ghost_network, preset

from conftest import hooks_left, one_thread_and_concurrent


class _Counted(nn.Conv2d):
    """A convolution that counts its forward passes (without a hook, which would make the ghost compute it)."""

    calls = 0

    def forward(self, x):
        type(self).calls += 1
        return super().forward(x)


class _Block(nn.Module):
    """timm's residual block in small: ``drop_path(branch(x)) + x`` when ``has_skip``."""

    has_skip = True

    def __init__(self, c: int):
        super().__init__()
        self.conv = _Counted(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)
        self.act = nn.ReLU6(inplace=True)
        self.pw = nn.Conv2d(c, c, 1)
        self.drop_path = nn.Identity()

    def forward(self, x):
        shortcut = x
        x = self.pw(self.act(self.bn(self.conv(x))))
        return self.drop_path(x) + shortcut


def _net(seed: int, blocks: int = 3, classes: int = 5) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), *(_Block(8) for _ in range(blocks)),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))
    for m in net.modules():   # batch-norm statistics that are not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _passes(net, x, n=8, target=1):
    """``n`` forward and backward passes: the logits and the input's gradient of each."""
    out = []
    for _ in range(n):
        xi = x.clone().requires_grad_(True)
        logits = net(xi)
        grad, = torch.autograd.grad(-logits[0, target], xi)
        out.append((logits.detach(), grad))
    return out


def _equal(a, b) -> bool:
    return all(torch.equal(la, lb) and torch.equal(ga, gb) for (la, ga), (lb, gb) in zip(a, b))


def _member_threads() -> int:
    return sum(t.name.startswith("vizlab-member") for t in threading.enumerate())


def test_a_skipped_branch_is_not_computed_and_changes_no_number():
    net, x = _net(0), torch.rand(1, 3, 12, 12)
    _Counted.calls = 0
    with ghost_network(net, 0.5, seed=3):
        skipped = _passes(net, x)
    computed_when_skipping = _Counted.calls
    # a hook inside each branch makes the ghost compute the branch and zero it at drop_path (the round-17 path)
    handles = [b.bn.register_forward_hook(lambda *a: None) for b in net if isinstance(b, _Block)]
    _Counted.calls = 0
    try:
        with ghost_network(net, 0.5, seed=3):
            zeroed = _passes(net, x)
    finally:
        for h in handles:
            h.remove()
    assert _Counted.calls == 8 * 3 and computed_when_skipping < 8 * 3   # exact: some branches were not run
    assert _equal(skipped, zeroed)   # exact: the same logits and gradients to the bit
    whole = _passes(net, x, n=1)[0]
    assert any(not torch.equal(s[0], whole[0]) for s in skipped)   # exact: the ghost did drop branches
    assert hooks_left(net) == 0 and not any("forward" in vars(b) for b in net)   # exact: nothing left behind


def test_ghost_copies_and_other_threads_see_the_whole_network_and_errors_restore_it():
    net, x = _net(1), torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        whole = net(x)
        with ghost_network(net, 0.9, seed=0):
            twin = copy.deepcopy(net)                  # a copy made meanwhile is a whole network
            assert torch.equal(twin(x), whole)
            other = []
            worker = threading.Thread(target=lambda: other.append(net(x)))
            worker.start()
            worker.join()
            assert torch.equal(other[0], whole)        # exact: another thread's pass
            traced = torch.fx.symbolic_trace(net)      # fx traces the whole block, not one draw
            assert torch.equal(traced(x), whole)
            from vizlab.fastpath import inference_model

            fast = inference_model(net, channels_last=False)   # the fast copy drops the ghost's forward
            assert not any("forward" in vars(b) for b in fast.modules() if getattr(b, "has_skip", False))
            assert torch.allclose(fast(x), whole, atol=1e-5)
        assert torch.equal(twin(x), whole)
    with pytest.raises(RuntimeError, match="boom"), ghost_network(net, 0.5):
        raise RuntimeError("boom")
    assert hooks_left(net) == 0 and not any("forward" in vars(b) for b in net)   # exact


@pytest.mark.parametrize("workers", [2, 3])
def test_concurrent_members_give_the_sequential_logits_and_gradients(workers):
    members = [_net(s) for s in (0, 1, 2)]
    ens, x = Ensemble(members), torch.rand(1, 3, 12, 12)
    with ghost_network(ens, 0.4, seed=5) as g:
        sequential = _passes(ens, x)
        state = g.generator.get_state()
        with torch.no_grad():
            sequential_eval = ens(x)
    with ghost_network(ens, 0.4, seed=5) as g, ens.concurrent(workers, frozen=True):   # input gradients only
        concurrent = _passes(ens, x)
        assert 1 <= _member_threads() <= workers   # exact: the passes ran on the workers
        assert torch.equal(g.generator.get_state(), state)   # exact: as many draws, in the same order
        with torch.no_grad():
            concurrent_eval = ens(x)
    assert _equal(sequential, concurrent)   # exact: the same numbers to the bit
    assert torch.equal(sequential_eval, concurrent_eval)   # exact: a pass without gradients too
    assert _member_threads() == 0 and hooks_left(ens) == 0   # exact: the workers ended with the context
    with ens.concurrent(workers), torch.no_grad():          # without a ghost, the plain mean
        assert torch.equal(ens(x), torch.stack([m(x) for m in members]).mean(dim=0))


def test_concurrent_ends_its_threads_after_an_error_and_restores_torch_threads():
    threads = torch.get_num_threads()

    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("member failed")

    ens = Ensemble([_net(0), Broken()])
    with pytest.raises(RuntimeError, match="member failed"), ens.concurrent():
        ens(torch.rand(1, 3, 8, 8))
    assert _member_threads() == 0 and ens._pool is None   # exact
    assert torch.get_num_threads() == threads   # exact: the workers' one thread did not leak
    with pytest.raises(KeyError), ens.concurrent():
        raise KeyError("outside")
    assert _member_threads() == 0   # exact
    with pytest.raises(ValueError, match="workers"):
        ens.concurrent(0)
    with pytest.raises(TypeError, match="workers"):
        ens.concurrent(2.0)
    with ens.concurrent(), pytest.raises(RuntimeError, match="already"):
        with ens.concurrent():
            pass


def test_a_render_through_the_concurrent_ensemble_is_the_sequential_one():
    ens = Ensemble([_net(s) for s in (3, 4, 5)])
    settings = preset("object", size=32, canvas=16, view=16, steps=6, ensemble=())

    def run(workers):
        param, transforms, regs, optimizer = build(ens, settings, seed=0)
        with ghost_network(ens, settings.ghost, seed=0), ens.concurrent(workers, frozen=True):
            assert ens._pool is not None or workers == 1   # exact
            return render(ens, class_logit(2), param, steps=settings.steps, lr=settings.lr, optimizer=optimizer,
                          transforms=transforms, regularizers=regs, seed=0, progress=False)

    a, b = run(1), run(3)
    assert torch.equal(a.image, b.image) and a.values == b.values   # exact


def test_class_visualization_with_workers_makes_the_same_image_retry_included(model):
    settings = preset("object_ensemble", size=48, canvas=24, view=24, steps=3, retry_plain=1.0)  # always retries
    # the claim: a concurrent run is a one-thread run to the bit (a sequential run on more threads is not)
    one, two = one_thread_and_concurrent(
        lambda workers: class_visualization(model, "goldfish", settings, progress=False, workers=workers))
    assert "retry" in one.info and one.info["retry"]["kept"] == two.info["retry"]["kept"]   # exact
    assert torch.equal(one.image, two.image) and one.values == two.values   # exact
    assert one.info["retry"]["plain"] == two.info["retry"]["plain"]   # exact
    assert _member_threads() == 0   # exact
    for bad, err in ((0, ValueError), (1.5, TypeError)):
        with pytest.raises(err, match="workers"):
            class_visualization(model, "goldfish", settings, progress=False, workers=bad)


def test_a_ghost_on_a_copy_made_while_another_ghost_was_active_runs():
    net, x = _net(2), torch.rand(1, 3, 12, 12)
    with ghost_network(net, 0.5, seed=0):
        twin = copy.deepcopy(net)   # carries the ghost's instance forward on its blocks
    with torch.no_grad():
        whole = twin(x)
        with ghost_network(twin, 0.5, seed=1) as g:
            ghosted = [twin(x) for _ in range(4)]   # a RecursionError before round 19's fix
        assert g.blocks == 3   # exact
        assert any(not torch.equal(y, whole) for y in ghosted)   # exact: the ghost dropped branches on the copy
        with ghost_network(net, 0.5, seed=1):
            assert all(torch.equal(a, b) for a, b in zip(ghosted, (net(x) for _ in range(4))))   # exact: as on the original
    assert not any("forward" in vars(b) for b in twin if isinstance(b, _Block))   # exact: the copy's own forward
    assert torch.equal(twin(x), whole)   # exact


def _fresh_thread_count() -> int:
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    return seen[0]


def test_overlapping_concurrent_runs_leave_torch_threads_as_they_found_them():
    threads = torch.get_num_threads()
    x = torch.rand(1, 3, 12, 12, requires_grad=True)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen, errors = {}, []

    def run(name, enter_after, leave_after, entered):
        try:
            enter_after.wait(10) if enter_after is not None else None
            ens = Ensemble([_net(0), _net(1)])
            seen[name + " before"] = torch.get_num_threads()
            with ens.concurrent(2):
                ens(x).sum().backward()
                seen[name + " inside"] = torch.get_num_threads()
                seen[name + " fresh thread inside"] = _fresh_thread_count()
                entered.set()
                leave_after.wait(10)
            seen[name + " after"] = torch.get_num_threads()
            if name == "A":
                a_out.set()
        except BaseException as exc:   # pragma: no cover - reported below
            errors.append(exc)
            a_in.set(), b_in.set(), a_out.set()

    try:
        torch.set_num_threads(2)
        # A enters, then B (started while A runs), A leaves, then B: the order that left 1 thread before
        a = threading.Thread(target=run, args=("A", None, b_in, a_in))
        b = threading.Thread(target=run, args=("B", a_in, a_out, b_in))
        a.start(), b.start()
        a.join(30), b.join(30)
        assert not errors, errors
        assert seen["A inside"] == seen["B inside"] == 1   # exact: the entering threads run at one thread
        assert seen["A after"] == 2 and seen["B after"] == 2   # exact: each left at torch's count
        assert seen["B before"] == 2 and seen["B fresh thread inside"] == 2   # exact: threads started meanwhile too
        assert torch.get_num_threads() == 2 and _fresh_thread_count() == 2   # exact: and after both
    finally:
        torch.set_num_threads(threads)


def _both(ens, workers, fn):
    """``fn()`` sequentially and inside ``ens.concurrent(workers)``."""
    seq = fn()
    with ens.concurrent(workers):
        con = fn()
    return seq, con


def test_concurrent_runs_what_it_cannot_split_as_the_sequential_ensemble():
    from vizlab.hooks import capture

    x = torch.rand(1, 3, 12, 12)
    # a layer captured on a member (a layer objective): the activation is the calling thread's
    ens = Ensemble([_net(0), _net(1)])

    def captured():
        with capture(ens, ["members.0.2.pw"]) as acts:
            ens(x.clone().requires_grad_(True))
        return acts["members.0.2.pw"]

    seq, con = _both(ens, 2, captured)
    assert torch.equal(seq, con)   # exact: the sequential pass ran (a KeyError before)
    # members being trained: the parameters' gradients, with and without an input that needs one
    for x_grad in (True, False):
        grads = []
        for workers in (1, 2):
            ens.zero_grad(set_to_none=True)
            with ens.concurrent(workers):
                (-ens(x.clone().requires_grad_(x_grad))[0, 1]).backward()
            grads.append(ens.members[0][0].weight.grad)
        assert grads[1] is not None and torch.equal(grads[0], grads[1])   # exact: None or an error before
    # frozen=True: the caller wants the input's gradient only (render): the workers run, the same gradient
    xs = [x.clone().requires_grad_(True) for _ in range(2)]
    (-ens(xs[0])[0, 1]).backward()
    ens.zero_grad(set_to_none=True)
    with ens.concurrent(2, frozen=True):
        (-ens(xs[1])[0, 1]).backward()
        assert _member_threads() >= 1   # exact: on the workers
    assert torch.equal(xs[0].grad, xs[1].grad) and ens.members[0][0].weight.grad is None   # exact
    with pytest.raises(TypeError, match="frozen"):
        ens.concurrent(2, frozen=1)
    # the logits made inside the context, backward after it ended
    for p in ens.parameters():
        p.requires_grad_(False)
    xs = [x.clone().requires_grad_(True) for _ in range(2)]
    (-ens(xs[0])[0, 1]).backward()
    with ens.concurrent(2):
        loss = -ens(xs[1])[0, 1]
        assert _member_threads() >= 1   # exact: this pass did run on the workers
    loss.backward()   # an AttributeError before
    assert torch.equal(xs[0].grad, xs[1].grad)   # exact
    # autocast does not reach the workers' threads: the pass stays in the calling thread, in bfloat16
    with torch.autocast("cpu", torch.bfloat16), torch.no_grad():
        seq, con = _both(ens, 2, lambda: ens(x))
    assert con.dtype == torch.bfloat16 and torch.equal(seq, con)   # exact
    # members in train mode (dropout draws from the global generator in the threads' order)
    drop = Ensemble([nn.Sequential(_net(s), nn.Dropout(0.5)) for s in (0, 1, 2)]).train()

    def seeded():
        torch.manual_seed(7)
        return [drop(x) for _ in range(3)]

    seq, con = _both(drop, 3, seeded)
    assert all(torch.equal(a, b) for a, b in zip(seq, con))   # exact


class _Reordered(nn.Module):
    """Residual blocks registered a, b, c but run c, b, a (and with ``twice`` a again)."""

    def __init__(self, seed, twice=True):
        super().__init__()
        self.twice = twice
        torch.manual_seed(seed)
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.a, self.b, self.c = _Block(8), _Block(8), _Block(8)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))

    def forward(self, x):
        x = self.a(self.b(self.c(self.stem(x))))
        return self.head(self.a(x) if self.twice else x)


@pytest.mark.parametrize("twice", [False, True])
def test_a_ghost_on_members_whose_blocks_run_out_of_order_is_a_clear_error_when_concurrent(twice):
    ens, x = Ensemble([_Reordered(0, twice).eval(), _Reordered(1, twice).eval()]), torch.rand(1, 3, 12, 12)
    with ghost_network(ens, 0.5, seed=0), torch.no_grad():
        ens(x)   # sequentially: fine
        with ens.concurrent(2), pytest.raises(RuntimeError, match="order they are registered"):
            ens(x)
    assert _member_threads() == 0 and hooks_left(ens) == 0   # exact


def test_a_ghost_in_train_mode_computes_dropped_branches_so_batch_norm_statistics_update_as_before():
    x = torch.rand(1, 3, 12, 12)

    def stats(force_compute):
        net = _net(0).train()
        handles = [b.bn.register_forward_hook(lambda *a: None) for b in net if isinstance(b, _Block)] \
            if force_compute else []   # a hook inside each branch: the compute-and-zero path
        try:
            with ghost_network(net, 0.5, seed=0):
                outs = [net(x.clone().requires_grad_(True)) for _ in range(5)]
        finally:
            for h in handles:
                h.remove()
        return outs, [b.bn.running_mean.clone() for b in net if isinstance(b, _Block)]

    (a, sa), (b, sb) = stats(False), stats(True)
    assert all(torch.equal(p, q) for p, q in zip(a, b))   # exact: the same outputs
    assert all(torch.equal(p, q) for p, q in zip(sa, sb))   # exact: and the dropped branches' statistics updated


def test_a_concurrent_class_image_reports_one_thread_probabilities(model):
    # the image's p and the retry's judgement, at a size where torch splits the kernels over 2 threads
    settings = preset("object_ensemble", size=160, view=128, steps=1, retry_plain=1.0)  # always retries
    one, two = one_thread_and_concurrent(
        lambda workers: class_visualization(model, "goldfish", settings, progress=False, workers=workers))
    assert torch.equal(one.image, two.image)   # exact
    assert one.info["target_probability"] == two.info["target_probability"]   # exact: computed at one thread
    for key in ("random", "plain", "kept"):
        assert one.info["retry"][key] == two.info["retry"][key]   # exact: the retry judged the same numbers


class _Spy(nn.Module):
    """A member that records, in each forward pass, the thread it runs on and torch's thread count there."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x):
        self.seen.append((threading.current_thread().name, torch.get_num_threads(), torch.is_grad_enabled()))
        return self.inner(x)


@pytest.mark.parametrize("workers", [None, 2])
def test_class_visualization_runs_members_on_one_thread_workers_and_restores_torch_threads(model, workers):
    spy = _Spy(model).eval()
    settings = preset("object_ensemble", size=48, canvas=24, view=24, steps=2, retry_plain=0.0)
    threads, in_callback = torch.get_num_threads(), []
    try:
        torch.set_num_threads(2)
        class_visualization(spy, 1, settings, progress=False, workers=workers,
                            callback=lambda step, image, value: in_callback.append(torch.get_num_threads()))
        after, fresh = torch.get_num_threads(), _fresh_thread_count()
    finally:
        torch.set_num_threads(threads)
    passes = [(name, count) for name, count, grad in spy.seen if grad]   # the run's (info's p: without)
    assert len(passes) == 2 and all(name.startswith("vizlab-member") for name, _ in passes)   # exact: on the workers
    assert all(count == 1 for _, count, _ in spy.seen)   # exact: each at one torch thread, info's p too
    assert in_callback and all(count == 1 for count in in_callback)   # exact: the run's own thread too
    assert after == 2 and fresh == 2   # exact: torch's count as it was, for later threads too


def test_class_visualization_with_one_torch_thread_runs_members_in_its_own_thread(model):
    spy = _Spy(model).eval()
    settings = preset("object_ensemble", size=48, canvas=24, view=24, steps=1, retry_plain=0.0)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        class_visualization(spy, 1, settings, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert spy.seen and all(name == threading.current_thread().name for name, _, _ in spy.seen)   # exact
