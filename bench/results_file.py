"""Where a bench writes its JSON: bench/results/NAME.json, with when and on what it was measured."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def write_results(name: str, **payload) -> Path:
    path = RESULTS_DIR / f"{name}.json"
    RESULTS_DIR.mkdir(exist_ok=True)
    path.write_text(json.dumps({"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "machine": platform.machine(), "cpus": os.cpu_count(), **payload}, indent=2))
    print(f"wrote {path.relative_to(RESULTS_DIR.parents[1])}")
    return path
