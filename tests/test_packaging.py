"""Packaging: a normal (non-editable) install carries every subpackage under `mplm_data` only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """Install the project without dependencies into a fresh target folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(ROOT)],
                   check=True, capture_output=True, text=True)
    return target


def test_install_maps_root_folders_under_package(installed):
    assert (installed / "mplm_data" / "generators" / "sudoku_geometry.py").is_file()
    assert (installed / "mplm_data" / "solvers" / "sudoku_derivation.py").is_file()
    assert (installed / "mplm_data" / "card_templates" / "dataset_card.md").is_file()
    assert not (installed / "generators").exists()
    assert not (installed / "solvers").exists()


@pytest.mark.parametrize("module", [
    "mplm_data.generators.sudoku", "mplm_data.solvers.sudoku_logic", "mplm_data.traces.storage",
    "mplm_data.runtime", "mplm_data.cli.app", "mplm_data.cards",
])
def test_install_imports_from_target(installed, module):
    code = f"import {module}, mplm_data; print(mplm_data.__file__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=installed, capture_output=True,
                            text=True, env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(installed))


def test_editable_install_resolves_to_repository():
    import mplm_data.generators
    import mplm_data.solvers

    assert Path(mplm_data.generators.__file__).parent == ROOT / "generators"
    assert Path(mplm_data.solvers.__file__).parent == ROOT / "solvers"
