"""benchmarks/train_fast_style_vgg.py: the GPU training script for fast style networks on VGG-19 (issue 25).

Runs it as the GPU machine would (a subprocess with the repository on PYTHONPATH), on the CPU for 2 steps at 64 px.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vizlab.models import load_model
from vizlab.style.transformer import HELD_OUT, load_transformer

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "train_fast_style_vgg.py"


def _module():
    spec = importlib.util.spec_from_file_location("train_fast_style_vgg", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    data = tmp_path_factory.mktemp("gpu")
    done = _run("--export-encoder", str(data / "vgg19_relu4_1_fp16.pth"), cwd=data)
    assert done.returncode == 0, done.stderr[-2000:]  # exact
    return data


def test_export_writes_the_truncated_encoder_in_float16_and_the_photos(exported):
    path = exported / "vgg19_relu4_1_fp16.pth"
    assert path.stat().st_size <= 16 * 2 ** 20  # exact
    state = torch.load(path, weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values())  # exact
    full = load_model("vgg19_normalised", device="cpu").net.state_dict()
    assert set(state) < set(full) and max(int(k.split(".")[0]) for k in state) == 29  # exact: conv4_1 is module 29
    for key, value in state.items():
        assert torch.equal(value, full[key].half())  # exact
    # The trunk computes the full network's relu4_1 (to float16 rounding).
    script = _module()
    net = script.load_loss_network(path, torch.device("cpu"))
    x = torch.rand(1, 3, 48, 48)
    with torch.no_grad():
        ref = load_model("vgg19_normalised", device="cpu").net[:31](x)
        ours = net(x)["relu4_1"]
    assert (ours - ref).abs().max() <= 2e-3 * ref.abs().max()  # exact: float16 weights
    assert sorted(p.stem for p in (exported / "heldout").glob("*.png")) == sorted(HELD_OUT)  # exact
    assert len(list((exported / "content").glob("*.png"))) >= 5  # exact
    assert not set(HELD_OUT) & {p.stem for p in (exported / "content").glob("*.png")}  # exact


def test_training_two_steps_on_cpu_writes_a_loadable_network_losses_and_previews(exported, tmp_path):
    out = tmp_path / "out"
    done = _run("--data", str(exported), "--out", str(out), "--device", "cpu", "--steps", "2", "--size", "64",
                "--batch-size", "2", "--width", "8", "--styles", "swirls", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]  # exact
    assert "swirls step 2/2" in done.stdout and "optional packages imported: none" in done.stdout  # exact
    path = out / "swirls_vgg.pt"
    blob = torch.load(path, weights_only=True)
    assert "optimizer" not in blob and all(v.dtype == torch.float16 for v in blob["state_dict"].values()
                                           if v.is_floating_point())  # exact
    net = load_transformer(path, device="cpu")
    assert net.config == {"norm": "instance", "width": 8, "blocks": 5} and net.meta["steps_done"] == 2  # exact
    assert net(torch.rand(1, 3, 40, 44)).shape == (1, 3, 40, 44)  # exact
    record = json.loads((out / "losses.json").read_text())["swirls"]
    assert len(record["history"]) == 2 and all(torch.isfinite(torch.tensor(h["total"])) for h in record["history"])  # exact
    assert record["style_layers"] == ["relu1_2", "relu2_2", "relu3_3", "relu4_1"]  # exact
    from PIL import Image

    assert Image.open(out / "preview.png").size == (256 * (1 + len(HELD_OUT)), 256)  # exact: style + 6 photos
    assert sorted(p.name for p in out.iterdir()) == ["losses.json", "preview.png", "swirls_vgg.pt"]  # exact
    # --evaluate judges the network on the held-out photos and writes them stylised at 512 px
    done = _run("--evaluate", str(path), "--out", str(tmp_path / "eval"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]  # exact
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["photo"] for r in rows] == list(HELD_OUT)  # exact
    assert all({"fall", "blob", "blob512", "cls", "rank"} <= set(r) for r in rows)  # exact
    assert all(1 <= r["rank"] <= 1000 and 0 <= r["blob512"] <= 1 for r in rows)  # exact: a rank and a share
    shots = sorted((tmp_path / "eval").glob("*.png"))
    assert len(shots) == len(HELD_OUT) and all(min(Image.open(p).size) == 512 for p in shots)  # exact


def test_resume_continues_an_interrupted_run_from_its_checkpoint(exported, tmp_path):
    """A CPU run in stages: --keep-checkpoint leaves <out>/<style>_vgg.ckpt after a finished stage, and --resume
    picks it up (network, Adam, step count, losses)."""
    out = tmp_path / "out"
    common = ("--data", str(exported), "--out", str(out), "--device", "cpu", "--size", "64", "--batch-size", "1",
              "--width", "8", "--styles", "swirls")
    done = _run(*common, "--steps", "1", "--keep-checkpoint", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]  # exact
    assert (out / "swirls_vgg.ckpt").exists()  # exact: a finished stage keeps it on request
    first = json.loads((out / "losses.json").read_text())["swirls"]
    done = _run("--data", str(exported), "--out", str(out), "--device", "cpu", "--steps", "2", "--size", "64",
                "--batch-size", "1", "--width", "8", "--styles", "swirls", "--resume", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]  # exact
    assert "swirls step 1/2" not in done.stdout and "swirls step 2/2" in done.stdout  # exact: step 1 was not redone
    record = json.loads((out / "losses.json").read_text())["swirls"]
    assert record["steps_done"] == 2 and len(record["history"]) == 2  # exact
    assert record["history"][0]["total"] == pytest.approx(first["history"][0]["total"], rel=1e-3)  # exact: the saved step
    assert not (out / "swirls_vgg.ckpt").exists()  # exact: the resumable copy is not left behind


def test_johnson_layers_cut_the_encoder_after_relu4_3_and_train_on_it(tmp_path):
    """--layers johnson: Johnson et al.'s exact style layers (relu1_2, relu2_2, relu3_3, relu4_3), the encoder
    exported up to conv4_3 (module 35) and the network's meta naming those layers; the default stays relu4_1."""
    script = _module()
    assert script.encoder_name() == "vgg19_relu4_1_fp16.pth"  # exact: round 12's command is unchanged
    assert script.encoder_name("johnson") == "vgg19_relu4_3_fp16.pth"  # exact
    with pytest.raises(ValueError, match="layers='relu5_1'"):
        script.encoder_name("relu5_1")
    path = tmp_path / script.encoder_name("johnson")
    done = _run("--export-encoder", str(path), "--layers", "johnson", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]  # exact
    state = torch.load(path, weights_only=True)
    assert max(int(k.split(".")[0]) for k in state) == 35 and path.stat().st_size <= 16 * 2 ** 20  # exact: conv4_3
    net = script.load_loss_network(path, torch.device("cpu"), "johnson")
    x = torch.rand(1, 3, 48, 48)
    with torch.no_grad():
        ref = load_model("vgg19_normalised", device="cpu").net[:37](x)
        ours = net(x)["relu4_3"]
    assert (ours - ref).abs().max() <= 2e-3 * ref.abs().max()  # exact: float16 weights
    out = tmp_path / "out"
    done = _run("--layers", "johnson", "--data", str(tmp_path), "--out", str(out), "--device", "cpu", "--steps", "1",
                "--size", "64", "--batch-size", "1", "--width", "8", "--styles", "impression", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]  # exact
    meta = load_transformer(out / "impression_vgg.pt", device="cpu").meta
    assert meta["loss_net"] == "vgg19_normalised up to relu4_3"  # exact
    assert meta["style_layers"] == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]  # exact
    assert meta["content_layers"] == ["relu2_2"]  # exact
