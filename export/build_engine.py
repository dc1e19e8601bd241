"""Stage 3: ONNX -> serialized TensorRT / TensorRT-RTX engine plus a sidecar JSON."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kitpose.atomic import write_atomic
from kitpose.export.config import ExportConfig, resolve_config
from kitpose.export.files import load_onnx, output_file, sha256_file
from kitpose.export.sidecar import write_sidecar
from kitpose.export.trt_backend import import_trt, local_gpu, parse_compute_capability, trt_major


def build_engine(src: str | Path, dst: str | Path, cfg: ExportConfig | None = None,
                 **overrides: Any) -> Path:
    """Build a strongly typed engine (precision comes from the ONNX) with one batch profile.

    Args:
        src: ONNX file (fp32, fp16 or int8 Q/DQ).
        dst: engine file, or a folder (then `model.engine` inside it).
        cfg: settings (backend, batch (min, opt, max), compute_capability, timing_cache,
            dla_core, tf32, workspace_mb); keyword overrides replace its fields.
    Returns:
        The engine path; `<engine>.json` beside it records flavour, version, targets and profiles.
    """
    cfg = resolve_config(cfg, overrides)
    src = Path(src)
    load_onnx(src, input_name=None)  # a truncated or corrupted file: a clear error before TensorRT
    trt, flavour = import_trt(cfg.backend)
    logger = _collecting_logger(trt)
    builder = trt.Builder(logger)
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    network = builder.create_network(0 if flag is None else 1 << int(flag))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(src)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError(f"{src}: {flavour} {trt.__version__} ONNX parser failed with "
                           f"{len(errors)} error(s):\n  " + "\n  ".join(errors))
    config = builder.create_builder_config()
    profiles = _add_profile(builder, network, config, cfg.batch)
    targets = _configure(trt, flavour, config, cfg)
    cache = _load_timing_cache(config, flavour, cfg.timing_cache)
    start = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"{src}: {flavour} {trt.__version__} engine build failed:\n  "
                           + "\n  ".join(logger.errors or ["(no error message from the builder)"]))
    dst = write_atomic(output_file(dst, "model.engine"), bytes(plan))
    if cache is not None:
        write_atomic(Path(cfg.timing_cache), bytes(config.get_timing_cache().serialize()))
    write_sidecar(dst, {"flavour": flavour, "version": trt.__version__, **targets,
                        "onnx": str(src), "onnx_sha256": sha256_file(src), "profiles": profiles,
                        "tf32": cfg.tf32, "build_seconds": round(time.perf_counter() - start, 3),
                        "timing_cache": cfg.timing_cache if cache is not None else None})
    return dst


def _collecting_logger(trt: Any) -> Any:
    """A trt.ILogger that keeps error messages for the exception text."""

    class _Logger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity, msg):
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                self.errors.append(msg)

    return _Logger()


def _add_profile(builder: Any, network: Any, config: Any, batch: tuple[int, int, int]) -> list[dict]:
    """One optimisation profile: batch (min, opt, max), other dims fixed from the ONNX."""
    profile, records = builder.create_optimization_profile(), []
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        rest = tuple(tensor.shape)[1:]
        if any(d < 0 for d in rest):
            raise ValueError(f"input {tensor.name!r} has dynamic non-batch dims {tuple(tensor.shape)}; "
                             f"only the batch axis may be dynamic")
        shapes = [(b, *rest) for b in batch]
        profile.set_shape(tensor.name, *shapes)
        records.append({"input": tensor.name, "min": shapes[0], "opt": shapes[1], "max": shapes[2]})
    config.add_optimization_profile(profile)
    return records


def _configure(trt: Any, flavour: str, config: Any, cfg: ExportConfig) -> dict[str, Any]:
    """TF32, workspace, compute-capability targets and DLA; returns what the sidecar records."""
    if not cfg.tf32 and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # TF32 matmuls would break fp32 parity
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, cfg.workspace_mb << 20)
    gpu = local_gpu()
    if cfg.compute_capability is not None:
        if not hasattr(config, "set_compute_capability"):
            raise ValueError(f"{flavour} {trt.__version__} has no ahead-of-time compute-capability "
                             f"targets; build on the target GPU (compute_capability=None) or use "
                             f"backend='tensorrt_rtx'")
        name = parse_compute_capability(cfg.compute_capability)
        if name not in trt.ComputeCapability.__members__:
            raise ValueError(f"compute_capability {cfg.compute_capability!r}: {flavour} supports "
                             f"{[m for m in trt.ComputeCapability.__members__ if m.startswith('SM')]}")
        config.num_compute_capabilities = 1
        config.set_compute_capability(trt.ComputeCapability.__members__[name], 0)
        capability = f"{name[2:-1]}.{name[-1]}"
    elif gpu is None:
        raise ValueError("no CUDA GPU visible to build for: pass compute_capability='8.6' (or the "
                         "target's) with backend='tensorrt_rtx' for an ahead-of-time build")
    else:
        capability = gpu[1]
    _configure_dla(trt, flavour, config, cfg.dla_core)
    return {"compute_capabilities": [capability], "target_gpu": None if cfg.compute_capability
            else gpu[0], "dla_core": cfg.dla_core}


def _configure_dla(trt: Any, flavour: str, config: Any, dla_core: int | None) -> None:
    """DLA placement with GPU fallback: TensorRT 10.x (Jetson) only."""
    if dla_core is None:
        return
    if flavour != "tensorrt" or trt_major(trt) != 10:
        raise ValueError(f"dla_core={dla_core}: DLA needs TensorRT 10.x (JetPack 6), "
                         f"not {flavour} {trt.__version__}")
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = dla_core
    config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def _load_timing_cache(config: Any, flavour: str, path: str | None) -> Any:
    """Attach a timing cache read from path (or a new one); TensorRT-RTX has none (no-op there)."""
    if path is None or flavour == "tensorrt_rtx":
        return None
    data = Path(path).read_bytes() if Path(path).is_file() else b""
    cache = config.create_timing_cache(data)
    config.set_timing_cache(cache, ignore_mismatch=False)
    return cache
