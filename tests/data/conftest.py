"""Shared fixtures for data tests: the real annotation samples in shared/fixtures/real beside the checkout."""
import pytest

from real_fixtures import REAL


@pytest.fixture(scope="session")
def real_dir():
    if not REAL.exists():
        pytest.skip(f"real fixtures not found at {REAL}")
    return REAL


@pytest.fixture(scope="session")
def info_for(real_dir):
    """Built-in metadata, or metadata read from the file's categories (default sigmas)."""
    import json
    import warnings

    from kitpose.data.metadata import DATASETS, info_from_coco

    def make(folder, file, builtin):
        if builtin is not None:
            return DATASETS[builtin]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return info_from_coco(json.loads((real_dir / folder / file).read_text()))

    return make
