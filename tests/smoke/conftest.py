"""What the smoke's tests share: the sample ID card as ``make smoke`` renders it."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.samples import write_samples
from infra.ops.smoke.sample import Sample


@pytest.fixture(scope="package")
def sample_stem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``STEM`` of ``STEM.png``, ``STEM.regions.json`` and ``STEM.printed.json``."""
    directory = tmp_path_factory.mktemp("samples")
    write_samples(directory)
    return directory / "id_card"


@pytest.fixture(scope="package")
def sample(sample_stem: Path) -> Sample:
    return Sample.load(sample_stem)
