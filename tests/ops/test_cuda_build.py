"""What can be checked of the CUDA twins without a GPU: they compile warning-free for Hopper (sm_90),
no kernel spills registers or exceeds the static shared-memory limit, and the op sources make no call
that allocates or waits on the host (so every op can be captured in a CUDA graph)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[2] / "csrc"
CUDA_SOURCES = sorted(CSRC.glob("*/*_cuda.cu"))
# Host calls that allocate, copy synchronously or wait: none may appear in an op's launch path.
FORBIDDEN = re.compile(r"\b(cudaMalloc\w*|cudaFree\w*|cudaMemcpy\w*|cudaMemset\w*|cudaStreamSynchronize|"
                       r"cudaDeviceSynchronize|cudaEventSynchronize|cudaHostAlloc|malloc)\s*\(|\b(new)\b")
STATIC_SMEM_LIMIT = 48 * 1024  # bytes a kernel may declare statically
EXPECTED_KERNELS = {"gram_kernel", "cluster_kernel", "means_kernel", "dark_kernel", "warp_kernel"}

needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (CUDA toolkit) on PATH")


def ptxas_report(source: Path, tmp_path: Path) -> str:
    """nvcc's ptxas resource report for `source` compiled for sm_90, warnings as errors."""
    cmd = ["nvcc", "-c", "-std=c++17", "--expt-relaxed-constexpr", f"-I{CSRC}", "-arch=sm_90",
           "-DKITPOSE_WITH_CUDA", "-Werror", "all-warnings", "--resource-usage",
           "-o", str(tmp_path / (source.stem + ".o")), str(source)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{source.name} does not compile cleanly:\n{run.stderr[-3000:]}"
    return run.stdout + run.stderr


def kernel_resources(report: str) -> dict[str, dict[str, int]]:
    """Mangled entry name -> {"stack", "spill_stores", "spill_loads", "registers", "smem"}."""
    kernels: dict[str, dict[str, int]] = {}
    current = None
    for line in report.splitlines():
        if m := re.search(r"Compiling entry function '(\w+)'", line):
            current = kernels.setdefault(m.group(1), {"smem": 0})
        elif current is not None and (m := re.search(
                r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)):
            current.update(stack=int(m[1]), spill_stores=int(m[2]), spill_loads=int(m[3]))
        elif current is not None and (m := re.search(r"Used (\d+) registers", line)):
            current["registers"] = int(m[1])
            if s := re.search(r"(\d+) bytes smem", line):
                current["smem"] = int(s[1])
            current = None
    return kernels


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, str]:
    """Source file name -> its ptxas report (each file compiled once for the module)."""
    out = tmp_path_factory.mktemp("ptxas")
    return {src.name: ptxas_report(src, out) for src in CUDA_SOURCES}


def test_every_op_has_a_cuda_source():
    assert {p.parent.name for p in CUDA_SOURCES} == {"dark", "kmedoids", "warp"}


@needs_nvcc
@pytest.mark.parametrize("source", CUDA_SOURCES, ids=lambda p: p.name)
def test_kernels_compile_for_sm90_without_spills(source, reports):
    kernels = kernel_resources(reports[source.name])
    assert kernels, f"no kernel entries in the ptxas report of {source.name}"
    for name, res in kernels.items():
        assert res["spill_stores"] == 0 and res["spill_loads"] == 0, f"{name} spills registers: {res}"
        assert res["smem"] <= STATIC_SMEM_LIMIT, f"{name} declares {res['smem']} bytes of shared memory"


@needs_nvcc
def test_all_expected_kernels_are_compiled(reports):
    names = " ".join(n for report in reports.values() for n in kernel_resources(report))
    missing = [k for k in EXPECTED_KERNELS if k not in names]
    assert not missing, f"kernels not found in the ptxas reports: {missing}"


@pytest.mark.parametrize("source", CUDA_SOURCES, ids=lambda p: p.name)
def test_op_sources_neither_allocate_nor_wait(source):
    text = re.sub(r"//[^\n]*", "", source.read_text())  # comments may name what the code avoids
    found = sorted({m.group(1) or m.group(2) for m in FORBIDDEN.finditer(text)})
    assert not found, f"{source.name} calls {found}: ops must run on caller-owned memory without a host sync"


@pytest.mark.parametrize("call", ["cudaMalloc(&p, n)", "cudaMemcpy(d, s, n, k)", "cudaStreamSynchronize(s)",
                                  "float* w = new float[8];", "cudaMallocAsync(&p, n, s)"])
def test_the_forbidden_call_pattern_catches(call):
    assert FORBIDDEN.search(call)


def test_the_parser_reads_a_ptxas_report():
    report = """ptxas info    : Compiling entry function '_Z6kernelPf' for 'sm_90'
ptxas info    : Function properties for _Z6kernelPf
    8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 40 registers, used 1 barriers, 16932 bytes smem"""
    assert kernel_resources(report) == {"_Z6kernelPf": {"stack": 8, "spill_stores": 4, "spill_loads": 4,
                                                        "registers": 40, "smem": 16932}}
