"""torch and transformers stay out of the CLI, the trace package and the SFT rows."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers")


def imported_after(code: str) -> set[str]:
    """Names of HEAVY modules in sys.modules after running `code` in a fresh interpreter."""
    probe = (f"{code}\nimport sys\n"
             f"print('loaded:', *(name for name in {HEAVY!r} if name in sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    marker = [line for line in done.stderr.splitlines() if line.startswith("loaded:")]
    assert marker, done.stderr
    return set(marker[-1].split()[1:])


@pytest.mark.parametrize("module", ["mplm_data.cli.app", "mplm_data.traces.storage",
                                    "mplm_data.traces.validate", "mplm_data.runtime.sft",
                                    "mplm_data.runtime.problem_run", "mplm_data.runtime.end_tokens",
                                    "mplm_data.cli.sft"])
def test_runtime_import_keeps_torch_out(module):
    assert imported_after(f"import {module}") == set()


@pytest.mark.parametrize("argv", [["--help"], ["sft", "--help"]])
def test_runtime_import_cli_help_keeps_torch_out(argv):
    code = ("import sys\nfrom mplm_data.cli.app import main\n"
            f"sys.argv = ['mplm-data', *{argv!r}]\n"
            "try:\n    main()\nexcept SystemExit as done:\n    assert done.code in (0, None), done.code")
    assert imported_after(code) == set()


def test_runtime_import_engine_does_load_torch():
    assert "torch" in imported_after("import mplm_data.runtime.engine")
