"""Where the lab's own files are: the checkout it runs from and the eval sets it ships."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EVAL_SETS_DIR = PROJECT_ROOT / "eval_sets"
