"bench/ runs from any checkout: its scripts and documents name no device or machine folders (lease.sh's variables instead)."
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MACHINE = ("/root/", "/work/", "/home/")  # the device machine's home, this workplace, a person's home


def bench_texts() -> list[Path]:
    "The scripts and documents of bench/ (the raw records under *results*/ are data, not instructions)."
    return sorted(p for p in (ROOT / "bench").rglob("*") if p.suffix in (".py", ".sh", ".md")
                  and not any("results" in part for part in p.relative_to(ROOT / "bench").parts[:-1]))


def test_bench_has_scripts_and_documents():
    names = {p.name for p in bench_texts()}
    assert {"lease.sh", "full_run.sh", "README.md", "RESULTS.md", "summary.py"} <= names
    assert not {"lease3.sh", "lease4.sh", "setup.sh"} & names, "superseded by bench/gpu/lease.sh"


@pytest.mark.parametrize("path", bench_texts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_machine_folders(path):
    bad = [f"{i}: {line.strip()}" for i, line in enumerate(path.read_text().splitlines(), 1) if any(m in line for m in MACHINE)]
    assert not bad, f"{path.relative_to(ROOT)} names machine folders (use $LP_BASE, $LP_DATA, $LAYERPRUNE_HOME):\n" + "\n".join(bad)
