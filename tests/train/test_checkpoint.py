"""kitpose.checkpoint: atomic writes and clear errors on bad files."""
import os
import time

import pytest
import torch

from kitpose.checkpoint import FORMAT, CheckpointError, load_checkpoint, save_checkpoint


def test_round_trip_adds_format(tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", {"arch": "tiny", "model": {"w": torch.arange(3.0)}})
    loaded = load_checkpoint(path)
    assert loaded["format"] == FORMAT and loaded["arch"] == "tiny"
    assert torch.equal(loaded["model"]["w"], torch.arange(3.0))


def test_crash_mid_write_keeps_old_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"model": {"w": torch.zeros(2)}})
    real_save = torch.save

    def crashing_save(obj, handle, *args, **kwargs):
        handle.write(b"partial bytes")  # some bytes reach the temp file, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"model": {"w": torch.ones(2)}})
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.zeros(2))
    assert os.listdir(tmp_path) == ["last.pt"]  # the temp file was removed


@pytest.mark.parametrize("content, expected", [
    pytest.param(None, "not found", id="missing"),
    pytest.param(b"", "cannot read", id="empty"),
    pytest.param(b"garbage" * 10, "cannot read", id="garbage"),
    pytest.param("truncated", "cannot read", id="truncated"),
    pytest.param("foreign", "not a kitpose checkpoint", id="foreign-dict"),
])
def test_bad_files_are_named(tmp_path, content, expected):
    path = tmp_path / "ckpt.pt"
    if content == "truncated":
        save_checkpoint(path, {"model": {"w": torch.randn(1000)}})
        path.write_bytes(path.read_bytes()[:300])
    elif content == "foreign":
        torch.save({"state_dict": {}}, path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=expected) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)


def test_pack_keeps_weights_drops_training_state_and_loads_into_fp32_model(tmp_path):
    from kitpose.checkpoint import pack_checkpoint
    from kitpose.models import create_model, model_from_checkpoint

    model = create_model("kitpose-w8-128").eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    src = save_checkpoint(tmp_path / "best.pt", {
        "arch": "kitpose", "config": {**model.config.__dict__, "input_size": [128, 128]},
        "model": state, "optimizer": {"state": {0: torch.zeros(1000)}}, "rng": [{"x": torch.zeros(5)}],
        "progress": {"step": 7}})
    packed = load_checkpoint(pack_checkpoint(src, tmp_path / "default.pt"))
    assert "optimizer" not in packed and "rng" not in packed and packed["progress"] == {"step": 7}
    assert packed["weights_dtype"] == "float16"
    assert all(v.dtype == torch.float16 for v in packed["model"].values() if v.is_floating_point())
    rebuilt = model_from_checkpoint(packed)
    for name, value in rebuilt.state_dict().items():
        assert value.dtype == state[name].dtype, name
        if value.is_floating_point():  # the fp16-rounded weights, back in fp32
            assert torch.equal(value, state[name].half().float()), name
        else:
            assert torch.equal(value, state[name]), name


def test_stale_temp_files_of_the_same_target_are_removed(tmp_path):
    """A kill during a save leaves `.last.pt.*.tmp` behind; the next save of last.pt removes the
    ones older than a few minutes, never a fresh one (a concurrent writer's) nor another target's
    (issue 13, item 6)."""
    old = time.time() - 3600
    stale = tmp_path / ".last.pt.k1ll3d00.tmp"
    other = tmp_path / ".best.pt.k1ll3d00.tmp"
    fresh = tmp_path / ".last.pt.wr1t1ng0.tmp"
    for path in (stale, other, fresh):
        path.write_bytes(b"")
    for path in (stale, other):
        os.utime(path, (old, old))
    save_checkpoint(tmp_path / "last.pt", {"model": {"w": torch.zeros(1)}})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, fresh.name, "last.pt"])
