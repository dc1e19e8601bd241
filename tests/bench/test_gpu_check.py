"""bench/gpu_check.sh: parses, and a dry run of a subset writes statuses, a summary and the OUT files."""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_check.sh"


def test_script_parses():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_dry_run_of_selected_steps(tmp_path):
    """A short rerun names its steps; the summary runs whether named or not."""
    env = {**os.environ, "GPU_CHECK_RESULTS": str(tmp_path / "results"), "GPU_CHECK_STEPS": "cuda_ready"}
    out = tmp_path / "out"
    done = subprocess.run(["bash", str(SCRIPT), "--dry-run", sys.executable, str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = (tmp_path / "results").iterdir()
    statuses = {p.stem: p.read_text().split()[0] for p in (run / "logs").glob("*.status")}
    assert statuses["cuda_ready"] == "ok" and statuses["summary"] == "ok"
    assert statuses["build"] == statuses["kernel_bench"] == statuses["pipeline_compile"] == "skipped"  # recorded
    assert json.loads((run / "machine.json").read_text())["kitpose"]["cpu_count"] >= 1
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.tar.gz", "machine.json", "summary.json"]
    with tarfile.open(out / "gpu_check.tar.gz") as tar:
        assert f"{run.name}/logs/cuda_ready.txt" in tar.getnames()


def test_a_failing_step_fails_the_run_and_the_rest_still_runs(tmp_path):
    env = {**os.environ, "GPU_CHECK_RESULTS": str(tmp_path / "results"), "GPU_CHECK_STEPS": "cuda_ready summary"}
    done = subprocess.run(["bash", str(SCRIPT), "--dry-run", str(tmp_path / "no-python")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "FAILED or timed out: cuda_ready" in done.stdout
    (run,) = (tmp_path / "results").iterdir()
    assert (run / "logs" / "summary.status").read_text().split()[0] == "failed"  # ran, with the same bad python
