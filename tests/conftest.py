import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    "The real MMLU/BoolQ/C4 copies: $LAYERPRUNE_DATA, else ../shared/data beside the checkout."
    d = Path(os.environ.get("LAYERPRUNE_DATA") or ROOT.parent / "shared" / "data")
    if not d.is_dir():
        pytest.fail(f"real data not found at {d}: set LAYERPRUNE_DATA to a folder with mmlu/ boolq/ c4/")
    return d


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    "The real SmolLM2-135M-Instruct checkpoint, fetched and converted once by the zoo."
    from layerprune import zoo
    return Path(zoo.fetch("smollm2-135m"))
