"""Device logic on a CPU-only machine: availability is mocked, so every branch (CUDA, MPS, CPU) is exercised."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from vizlab.device import describe_device, get_device, model_device, scaled

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def available(monkeypatch):
    """``available(cuda=..., mps=...)`` pretends those backends are (not) present."""

    def set_(cuda: bool = False, mps: bool = False) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return set_


@pytest.mark.parametrize("arg", [None, "auto"])
@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(available, arg, cuda, mps, expected):
    available(cuda=cuda, mps=mps)
    assert get_device(arg) == torch.device(expected)


def test_explicit_devices_pass_through_when_available(available):
    available(cuda=True, mps=True)
    assert get_device("cpu") == torch.device("cpu")
    assert get_device("cuda:1") == torch.device("cuda", 1)
    assert get_device("mps") == torch.device("mps")
    assert get_device(torch.device("cuda", 0)) == torch.device("cuda", 0)


@pytest.mark.parametrize("asked", ["cuda", "cuda:0", torch.device("cuda"), "mps"], ids=repr)
def test_unavailable_device_raises_value_error(available, asked):
    available(cuda=False, mps=False)
    with pytest.raises(ValueError, match="not available") as info:
        get_device(asked)
    assert str(asked) in str(info.value)


@pytest.mark.parametrize("bad", ["banana", "gpu", "cuda:x", ""])
def test_bad_device_string_raises_value_error_naming_it(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))) as info:
        get_device(bad)
    assert "auto" in str(info.value)  # says what is allowed
    assert isinstance(info.value.__cause__, RuntimeError)  # chained from torch's own error


@pytest.mark.parametrize("bad", [0, 1.5, ["cpu"]])
def test_wrong_type_raises_type_error(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        get_device(bad)


@pytest.mark.parametrize(("cuda", "mps", "expected"), [(False, False, 8), (True, False, 64), (False, True, 64)])
def test_scaled_picks_small_value_on_cpu_only(available, cuda, mps, expected):
    available(cuda=cuda, mps=mps)
    assert scaled(8, 64) == expected


def test_scaled_respects_an_explicit_device(available):
    available(cuda=True)
    assert scaled(8, 64, "cpu") == 8
    assert scaled(8, 64, "cuda") == 64
    available(cuda=False)
    with pytest.raises(ValueError):
        scaled(8, 64, "cuda")


def test_model_device_follows_the_model(tiny):
    assert model_device(tiny) == torch.device("cpu")
    # A model on another device (meta needs no hardware) reports that device, not a global default.
    assert model_device(tiny.to("meta")) == torch.device("meta")
    only_buffer = nn.BatchNorm2d(3, affine=False).to("meta")
    assert list(only_buffer.parameters()) == []
    assert model_device(only_buffer) == torch.device("meta")
    assert model_device(nn.ReLU()) == torch.device("cpu")


def test_describe_device(monkeypatch):
    assert re.fullmatch(r"cpu \(\d+ threads?\)", describe_device(torch.device("cpu")))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert describe_device(torch.device("cpu")) == "cpu (1 thread)"
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert describe_device(torch.device("cpu")) == "cpu (2 threads)"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    assert describe_device(torch.device("cuda")) == "cuda (Fake GPU)"
    assert describe_device(torch.device("mps")) == "mps"


# Code that names CUDA outright breaks on Apple MPS and on CPU-only machines; devices must follow the model.
HARD_CODED_CUDA = re.compile(r"""\.cuda\(|["']cuda(:\d+)?["']""")
COMPARISON = re.compile(r"""[!=]=\s*["']cuda["']""")  # `device.type == "cuda"` asks, it does not choose


def _hard_codes_cuda(line: str) -> bool:
    return not line.lstrip().startswith("#") and bool(HARD_CODED_CUDA.search(COMPARISON.sub("", line)))


def _code_files():
    for path in sorted((ROOT / "vizlab").rglob("*.py")):
        if path.name != "device.py":  # the one place that chooses a device
            yield path, path.read_text()
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        yield path, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_nothing_hard_codes_cuda():
    offenders = [
        f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}"
        for path, text in _code_files()
        for lineno, line in enumerate(text.splitlines(), 1)
        if _hard_codes_cuda(line)
    ]
    assert not offenders, "use vizlab.device.get_device()/model_device() instead of naming CUDA:\n" + "\n".join(
        offenders
    )


def test_hard_coded_cuda_pattern_catches_the_usual_forms():
    for line in ['model.cuda()', 'x.to("cuda")', "torch.device('cuda:0')", 'device="cuda"']:
        assert _hard_codes_cuda(line), line
    for line in ["x.to(model_device(model))", "torch.cuda.is_available()", 'if dev.type == "cuda":',
                 '# x.to("cuda") would break on a Mac']:
        assert not _hard_codes_cuda(line), line


def test_one_thread_pool_nested_in_one_thread_restores_torch_threads_for_later_threads_too():
    import threading

    from vizlab.device import one_thread_pool

    def fresh():
        seen = []
        t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        t.start(), t.join()
        return seen[0]

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with one_thread_pool(0) as none:   # e.g. class_visualization's judgement inside an outer run
            assert none is None and torch.get_num_threads() == 1   # exact
            with one_thread_pool(2, "vizlab-test") as pool:
                assert list(pool.map(lambda _: torch.get_num_threads(), range(4))) == [1] * 4   # exact
                assert torch.get_num_threads() == 1 and fresh() == 2   # exact: threads started meanwhile: 2
            assert torch.get_num_threads() == 1   # exact: the outer one still holds this thread
        assert torch.get_num_threads() == 2 and fresh() == 2   # exact
    finally:
        torch.set_num_threads(threads)
