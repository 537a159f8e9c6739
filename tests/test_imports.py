"""transformers imported by several threads at once, as two Streamlit sessions of a fresh app do."""

import subprocess
import sys

import pytest

RACE = """
import threading
from core.imports import first_imports

errors, barrier = [], threading.Barrier(4)

def first_use():
    barrier.wait()
    try:
        with first_imports():
            from transformers import AutoTokenizer  # noqa: F401
    except ImportError as exc:
        errors.append(str(exc))

threads = [threading.Thread(target=first_use) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert not errors, errors
"""


@pytest.mark.parametrize("attempt", [1, 2])  # without the lock, 2 of 3 fresh processes failed here
def test_threads_importing_transformers_at_once_in_a_fresh_process_all_get_it(attempt):
    result = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
