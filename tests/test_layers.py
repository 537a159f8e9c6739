"""core's packages import only downwards, and reading never imports torch.

Every import in core counts, lazy ones inside functions too: a lazy import
upwards is still a cycle, only one that fails later.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core"

# Lowest first. A unit may import its own modules and any unit of a lower layer, never one of
# its own layer or above.
LAYERS = (
    ("core.errors",),
    ("core.settings", "core.project"),
    ("core.hardware", "core.cpu_share", "core.subcommands", "core.git", "core.processes", "core.imports"),
    ("core.launcher",),  # forks the lab's background processes warm
    ("core.paths",),  # which files a typed path may reach
    ("core.store",),
    ("core.access",),  # users, roles, the audit log
    ("core.jobs",),
    ("core.llm",),  # backends, the spec grammar, loading local models, registered adapters
    ("core.serving",),  # the model server and its client
    ("core.rag",),
    ("core.systems",),  # the composition root: a spec becomes something to ask
    ("core.checklist", "core.playground"),
    ("core.finetune",),
    ("core.evaluation",),
    ("core.history", "core.reports"),
    ("core.diagnosis",),  # the seven failure modes, read from runs; it pairs runs as history does
    ("core.cli",),
    ("core.__main__",),
)
LAYER_OF = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """core.llm.spec -> core.llm; core.settings -> core.settings."""
    return ".".join(module.split(".")[:2])


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str, root: Path) -> bool:
    base = root / name.replace(".", "/")
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(path: Path, root: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)  # `from core import cpu_share` imports core.cpu_share
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if is_module(f"{node.module}.{alias.name}", root))
    return {name for name in found if name.startswith("core.")}


def upward_imports(root: Path = ROOT) -> list[str]:
    problems = []
    for path in sorted((root / "core").rglob("*.py")):
        source = unit_of(module_name(path, root))
        if source == "core":
            continue  # the package's own __init__ imports none of its units
        for target in sorted({unit_of(name) for name in imported_modules(path, root)} - {source}):
            if LAYER_OF[target] >= LAYER_OF[source]:
                problems.append(f"{path.relative_to(root)} imports {target} ({source} is not above it)")
    return problems


def test_every_unit_of_core_has_a_layer():
    units = {unit_of(module_name(path, ROOT)) for path in CORE.rglob("*.py")} - {"core"}
    assert units - set(LAYER_OF) == set(), "add the new unit to LAYERS"


def test_core_imports_only_downwards():
    assert upward_imports() == []


def test_the_check_sees_a_lazy_upward_import(tmp_path):
    """The test above fails on an import inside a function, as the old spec -> serving one was."""
    shutil.copytree(CORE, tmp_path / "core", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "core" / "llm" / "spec.py", "a", encoding="utf-8") as spec:
        spec.write("\n\ndef _late():\n    from core.serving.routing import local_backend\n")
    assert upward_imports(tmp_path) == ["core/llm/spec.py imports core.serving (core.llm is not above it)"]


READING = [
    ["--help"],
    ["jobs", "list"],
    ["checklist", "list"],
    ["evalset", "list"],
    ["runs", "list"],
]


@pytest.mark.parametrize("argv", READING, ids=" ".join)
def test_reading_from_the_command_line_is_quiet_and_never_imports_torch(argv, data_dir):
    probe = ("import sys\nfrom core.cli import main\n"
             f"code = main({argv!r})\n"
             "assert 'torch' not in sys.modules, 'torch was imported'\n"
             "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""  # no third-party warnings in a user's terminal


PAGES = ("home", "decide", "knowledge", "finetune", "playground", "evaluate", "history", "report")


def test_opening_every_page_of_a_new_lab_never_imports_torch(data_dir):
    probe = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
             "app = AppTest.from_file('app.py', default_timeout=60).run()\n"
             f"for page in {PAGES!r}:\n"
             "    app.switch_page(f'pages/{page}.py').run()\n"
             "    assert not app.exception, (page, [e.value for e in app.exception])\n"
             "    assert 'torch' not in sys.modules, f'the {page} page imported torch'\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_training_imports_say_nothing_a_user_cannot_act_on():
    probe = "import core.finetune.trainer\nfrom transformers import Trainer\nimport peft.tuners.lora\n"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "gemm_4bit" not in done.stderr
