"""scripts/finetune_check.py end to end: train tiny models, then judge the runtime's output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "finetune_check.py"


def run_check(out: Path, *arguments: str) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *arguments],
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(next(out.glob("finetune_*.json")).read_text())


@pytest.mark.slow
def test_finetune_smoke_loss_falls_and_runs_validate(tmp_path: Path):
    record = run_check(tmp_path, "--preset", "smoke")
    formats = record["formats"]
    assert sorted(formats) == ["cot", "mplm"]

    for fmt, report in formats.items():
        curve = report["training"]["curve"]
        assert curve[-1][1] < 0.25 * curve[0][1], f"{fmt} loss did not fall: {curve[0]} -> {curve[-1]}"
        assert report["training"]["stopped_by"] == "tokens"
    assert formats["cot"]["training"]["tokens"] <= formats["mplm"]["training"]["tokens"] + 4096

    mplm = formats["mplm"]["eval"]
    assert mplm["runs"] == 8
    assert mplm["threads"] == 8 * 16
    assert mplm["valid_thread_share"] >= 0.9, mplm["first_errors"]
    assert mplm["valid_runs"] >= 4, mplm["first_errors"]
    assert formats["cot"]["eval"]["valid_runs"] >= 4, formats["cot"]["eval"]["first_errors"]
    assert (tmp_path / "loss_smoke.png").stat().st_size > 1000
    assert "| mplm |" in record["table"]


@pytest.mark.slow
def test_finetune_gpu_preset_dry_run_on_cpu(tmp_path: Path):
    record = run_check(tmp_path, "--preset", "gpu", "--dry-run", "--device", "cpu")
    assert record["device"] == "cpu"
    assert record["eval_puzzles"] == 2
    (report,) = record["formats"].values()
    assert report["training"]["steps"] == 1
    assert report["eval"]["runs"] == 2
    assert report["eval"]["threads"] >= 2 * 625
    assert report["sft"]["rows"] > 0
