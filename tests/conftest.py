"""Shared pytest fixtures.

`public_data` is the folder of real public puzzle collections and SAT benchmarks, found only
through the environment variable MPLM_PUBLIC_DATA. Tests that use it skip when it is unset.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Keep the Hugging Face caches out of the home folder and make sure no test reaches the network.
# These must be set before `datasets` or `huggingface_hub` is imported, which test modules do.
os.environ.setdefault("HF_HOME", str(Path(tempfile.gettempdir()) / "mplm-data-tests-hf"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def public_data() -> Path:
    """Path of the public data folder named by $MPLM_PUBLIC_DATA; skips the test when absent."""
    value = os.environ.get("MPLM_PUBLIC_DATA")
    if not value:
        pytest.skip("MPLM_PUBLIC_DATA is not set")

    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"MPLM_PUBLIC_DATA points to {path}, which does not exist")
    return path


@pytest.fixture
def one_torch_thread():
    """Run torch on one thread while the test runs.

    On a loaded 2-core machine two threads made the tiny-model tests about 10x slower. torch is
    imported here, not at the top, so that tests without torch never load it.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
