"""The epoch loop: exact resume (mid-epoch, across an LR milestone), best-AP checkpoint, logs."""
import pytest
import torch

from kitpose.checkpoint import load_checkpoint
from kitpose.train.epoch import BEST_NAME, LAST_NAME, resume_run
from kitpose.train.loop import fit
from kitpose.train.metrics import CURVE_NAME, read_metrics
from train_fakes import make_run

STEPS_PER_EPOCH = 6  # 24 samples / batch 4


def record_losses(run) -> list[float]:
    """Wrap the run's objective so every step's loss is appended to the returned list."""
    losses, objective = [], run.objective

    def recording(model, batch):
        loss = objective(model, batch)
        losses.append(loss.item())
        return loss
    run.objective = recording
    return losses


def params(run) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in run.model.state_dict().items()}


def test_resume_is_bit_for_bit(tmp_path):
    n, m = 8, 7  # stop in epoch 1 (batch 2), continue across the epoch-2 milestone into epoch 2
    ref = make_run(tmp_path / "ref")
    ref_losses = record_losses(ref)
    fit(ref, epochs=4, max_steps=n + m)

    first = make_run(tmp_path / "cut")
    fit(first, epochs=4, max_steps=n)
    assert load_checkpoint(tmp_path / "cut" / LAST_NAME)["progress"]["step"] == n
    torch.manual_seed(12345)  # the resumed process starts from unrelated RNG states and weights
    second = make_run(tmp_path / "cut", init_seed=5)
    resume_run(second)
    assert (second.progress.epoch, second.progress.batch) == (1, n - STEPS_PER_EPOCH)
    resumed_losses = record_losses(second)
    fit(second, epochs=4, max_steps=n + m)

    assert resumed_losses == ref_losses[n:]  # identical next-step losses, exactly
    assert second.optimizer.param_groups[0]["lr"] == ref.optimizer.param_groups[0]["lr"]
    for key, value in params(ref).items():
        assert torch.equal(value, params(second)[key]), key


def test_resume_inside_a_warmup_is_bit_for_bit(tmp_path):
    """Cut at step 4 of a 9-step warm-up that spans the epoch-1 milestone: the resumed run steps at
    the same lrs and ends with the same weights."""
    ref = make_run(tmp_path / "ref", warmup_iters=9)
    fit(ref, epochs=3, max_steps=14)
    logged = [r["value"] for r in read_metrics(tmp_path / "ref" / "metrics.csv") if r["name"] == "train/lr"]
    # 6 steps an epoch, lr 1e-2, x0.1 after epochs 1 and 2: the milestones decay the schedule's lr
    expect = [1e-2 * i / 9 for i in range(1, 7)] + [1e-3 * i / 9 for i in (7, 8, 9)] + [1e-3] * 3 + [1e-4] * 2
    assert logged == pytest.approx(expect, rel=1e-6)
    first = make_run(tmp_path / "cut", warmup_iters=9)
    fit(first, epochs=3, max_steps=4)
    second = make_run(tmp_path / "cut", init_seed=5, warmup_iters=9)
    resume_run(second)
    fit(second, epochs=3, max_steps=14)
    assert second.optimizer.param_groups[0]["lr"] == ref.optimizer.param_groups[0]["lr"]
    for key, value in params(ref).items():
        assert torch.equal(value, params(second)[key]), key


def test_resume_without_cutmix_generator_still_exact(tmp_path):
    ref = make_run(tmp_path / "ref", cutmix=False)
    fit(ref, epochs=2, max_steps=9)
    first = make_run(tmp_path / "cut", cutmix=False)
    fit(first, epochs=2, max_steps=3)
    second = make_run(tmp_path / "cut", cutmix=False, init_seed=3)
    resume_run(second)
    fit(second, epochs=2, max_steps=9)
    for key, value in params(ref).items():
        assert torch.equal(value, params(second)[key]), key


def test_best_checkpoint_follows_validation_ap(tmp_path):
    run = make_run(tmp_path, epochs=4, val_every=1)
    aps = iter([0.2, 0.5, 0.4, 0.45])
    run.validate = lambda model: {"AP": next(aps)}
    fit(run, epochs=4)
    best = load_checkpoint(tmp_path / BEST_NAME)
    assert best["progress"]["epoch"] == 2 and best["progress"]["best_ap"] == 0.5
    assert load_checkpoint(tmp_path / LAST_NAME)["progress"]["epoch"] == 4
    rows = read_metrics(tmp_path / "metrics.csv")
    assert [r["value"] for r in rows if r["name"] == "val/AP"] == [0.2, 0.5, 0.4, 0.45]
    assert len([r for r in rows if r["name"] == "train/loss"]) == 4 * STEPS_PER_EPOCH


def test_loss_falls_and_curve_is_drawn(tmp_path):
    run = make_run(tmp_path, cutmix=False, epochs=6, milestones=(100,))
    fit(run, epochs=6)
    run.logger.close()
    loss = [r["value"] for r in read_metrics(tmp_path / "metrics.csv") if r["name"] == "train/loss"]
    assert sum(loss[-6:]) < 0.5 * sum(loss[:6])
    assert (tmp_path / CURVE_NAME).stat().st_size > 1000


def test_grad_clip_bounds_the_update(tmp_path):
    clipped = make_run(tmp_path / "a", cutmix=False, grad_clip=1e-6, lr=1.0)
    free = make_run(tmp_path / "b", cutmix=False, lr=1.0)
    before = params(clipped)
    fit(clipped, epochs=1, max_steps=1)
    fit(free, epochs=1, max_steps=1)
    # Adam normalises the step size, so compare gradients: clipping must have scaled them down.
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in clipped.model.parameters()))
    free_norm = torch.sqrt(sum((p.grad ** 2).sum() for p in free.model.parameters()))
    assert norm <= 1e-6 * 1.001 < free_norm
    assert any(not torch.equal(before[k], v) for k, v in params(clipped).items())


def test_a_run_without_a_step_writes_no_best_checkpoint(tmp_path):
    """A validation before any optimiser step scores random weights: no best.pt (issue 13, item 2)."""
    from kitpose.train.loop import end_epoch

    run = make_run(tmp_path, epochs=1, val_every=1)
    run.validate = lambda model: {"AP": 0.1}
    end_epoch(run, epochs=1)
    assert run.progress.step == 0 and not (tmp_path / BEST_NAME).exists()
