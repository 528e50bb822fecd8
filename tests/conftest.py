import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    "The development copy beside the checkout (../shared/data), unless LAYERPRUNE_HIDE_SHARED=1 hides it (a newcomer's machine)."
    d = ROOT.parent / "shared" / "data"
    return d if d.is_dir() and os.environ.get("LAYERPRUNE_HIDE_SHARED", "0") != "1" else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    "The real MMLU/BoolQ/C4: $LAYERPRUNE_DATA, else ../shared/data, else what `layerprune data fetch` puts in the cache (fetched here)."
    if os.environ.get("LAYERPRUNE_DATA"):
        d = Path(os.environ["LAYERPRUNE_DATA"])
        if not d.is_dir():
            pytest.fail(f"LAYERPRUNE_DATA={d} is not a folder: point it to a folder with mmlu/ boolq/ c4/, or unset it "
                        "to use `layerprune data fetch`'s cache")
        return d
    if (d := shared_data()) is not None: return d
    from layerprune.data import fetch_data, data_home
    fetch_data(progress=False)  # what the main job does: registry wheels into the cache (no-op when there)
    return data_home()


@pytest.fixture(scope="session")
def registry_data(data_dir) -> bool:
    "Whether `data_dir` is the registry copy (`layerprune data fetch`): C4 is exllamav3's 584 documents, BoolQ has no train split."
    return (data_dir / "c4" / "layerprune_data.json").is_file()


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    "The real SmolLM2-135M-Instruct checkpoint, fetched and converted once by the zoo."
    from layerprune import zoo
    return Path(zoo.fetch("smollm2-135m"))
