"""stats/live has no circle of imports (issue #21): each module imports alone in a fresh
interpreter, and the graph of its imports of one another (every import statement, those for
type checking and inside functions too) has no cycle."""

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest
from django.conf import settings

LIVE = Path(settings.BASE_DIR) / "stats" / "live"
MODULES = sorted(p.stem for p in LIVE.glob("*.py") if p.stem != "__init__")


def live_imports(path: Path) -> set[str]:
    """The stats.live modules that `path` imports, wherever the statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "stats.live":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stats.live."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("stats.live.")}
    return found & set(MODULES)


def test_the_graph_of_stats_live_imports_has_no_cycle():
    graph = {name: live_imports(LIVE / f"{name}.py") for name in MODULES}
    assert graph["hub"] >= {"feed", "fanout"}  # the graph is read: the hub's own imports are in it
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"a circle of imports in stats/live: {' -> '.join(exc.args[1])}")
    assert sorted(order) == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_each_module_imports_alone_in_a_fresh_interpreter(name):
    code = f"import django; django.setup(); import stats.live.{name}"
    env = {"DJANGO_SETTINGS_MODULE": "webgame.settings", "DEBUG": "true", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
