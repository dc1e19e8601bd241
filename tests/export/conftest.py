"""Shared exports for the export tests: each preset is exported once per session (small sizes)."""
import warnings

import pytest

from kitpose.models import HEATMAP_ARCHS, create_model, list_models

META = {"keypoint_names": [f"kp{i}" for i in range(17)], "skeleton": [[0, 1], [1, 2]],
        "flip_pairs": [[1, 2]], "sigmas": [0.05] * 17}


def small_model(name: str):
    """A preset at 64x64 input; KITPose with narrow width and token dim so export takes seconds."""
    overrides = {"input_size": (64, 64)}
    if name.startswith("kitpose"):
        overrides.update(dim=64, width=8)
    return create_model(name, **overrides).eval()


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """name -> (model, onnx path); exports lazily and caches per session."""
    from kitpose.export import export_onnx

    cache, root = {}, tmp_path_factory.mktemp("onnx")

    def get(name: str):
        if name not in cache:
            model = small_model(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cache[name] = (model, export_onnx(model, root / f"{name}.onnx", metadata=META,
                                                  model_name=name))
        return cache[name]

    return get


ALL_MODELS = list_models(HEATMAP_ARCHS)
