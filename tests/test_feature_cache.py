"""The feature cache under concurrent writers and changed bytes (vizlab.inside.features)."""
from __future__ import annotations

import threading

import torch

import vizlab.inside.features as features_module
from vizlab.inside.datasets import ImageSet
from vizlab.inside.features import cache_file, cache_key, checksum, extract_features
from vizlab.toy import random_images, tiny_cnn

def _set(n=6, size=16, seed=0) -> ImageSet:
    return ImageSet(random_images(n, size, seed), torch.arange(n) % 2, ["even", "odd"], "random")


def test_two_writers_of_the_same_key_both_succeed(tmp_path, monkeypatch):
    # Both writers finish writing their temporary file before either moves it into place: with one shared
    # temporary name the second move found nothing (FileNotFoundError).
    barrier = threading.Barrier(2, timeout=30)
    real_save = torch.save

    def save_then_wait(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        barrier.wait()

    monkeypatch.setattr(features_module.torch, "save", save_then_wait)
    data, results, errors = _set(), [None, None], []
    models = [tiny_cnn(), tiny_cnn()]  # seeded in this thread (the global RNG is not thread-safe)

    def run(i):
        try:
            results[i] = extract_features(models[i], data, "relu2", cache_folder=tmp_path, progress=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and torch.equal(results[0], results[1])
    assert len(list(tmp_path.glob("features-*.pt"))) == 1 and not list(tmp_path.glob("*.tmp"))
    monkeypatch.undo()
    count = []
    model = tiny_cnn()
    handle = model.register_forward_pre_hook(lambda m, i: count.append(1))
    again = extract_features(model, data, "relu2", cache_folder=tmp_path, progress=False)
    handle.remove()
    assert count == [] and torch.equal(again, results[0])                        # the file is whole: a hit


def test_flipped_bytes_are_detected_and_recomputed(tmp_path):
    model, data = tiny_cnn(), _set()
    count = []
    handle = model.register_forward_pre_hook(lambda m, i: count.append(1))
    first = extract_features(model, data, "relu2", pool=None, cache_folder=tmp_path, progress=False)
    calls = len(count)
    path = cache_file(cache_key(model, data, "relu2", None, None), tmp_path)
    raw = bytearray(path.read_bytes())
    where = bytes(raw).find(first.contiguous().numpy().tobytes()[:64])           # the stored feature values
    assert where > 0
    raw[where + 5] ^= 0x10                                                          # one bit of one value
    path.write_bytes(bytes(raw))
    stored = torch.load(path, weights_only=True)                                    # torch itself loads it ...
    assert not torch.equal(stored["features"], first)                               # ... with a wrong value
    assert stored["checksum"] != checksum(stored["features"])
    again = extract_features(model, data, "relu2", pool=None, cache_folder=tmp_path, progress=False)
    assert len(count) == 2 * calls and torch.equal(again, first)                    # recomputed, not trusted
    healed = torch.load(path, weights_only=True)
    assert healed["checksum"] == checksum(healed["features"])                       # and the file rewritten
    extract_features(model, data, "relu2", pool=None, cache_folder=tmp_path, progress=False)
    assert len(count) == 2 * calls                                                  # a hit again
    handle.remove()
