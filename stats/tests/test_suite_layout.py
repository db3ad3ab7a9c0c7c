"""The suite's own shape: helpers shared between test modules live in support modules, so that
importing one test module never runs (or re-collects) another one's module-level set-up, and
the modules can run in any order (pytest-randomly)."""

import ast
import random
import re
from pathlib import Path

from stats.models import SLUG_VALIDATOR, Game
from stats.tests.games import game_slug_unique

TESTS = Path(__file__).resolve().parent


def imports_of_tests_found(path: Path) -> list[str]:
    """The test modules (test_*) that the module at `path` imports, however it spells it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[-1].startswith("test_"):
                found.append(module)
            elif module in ("stats.tests", "") and node.level in (0, 1):  # from stats.tests import test_x
                found += [alias.name for alias in node.names if alias.name.startswith("test_")]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[-1].startswith("test_")]
    return found


def test_no_test_module_imports_another_test_module():
    modules = sorted(TESTS.glob("*.py"))
    assert len([m for m in modules if m.name.startswith("test_")]) > 50  # the walk found the suite
    offenders = {m.name: found for m in modules if (found := imports_of_tests_found(m))}
    assert offenders == {}, "move the shared helpers into a stats/tests/*_support.py module"


def test_the_check_sees_each_spelling_of_such_an_import(tmp_path):
    spellings = [
        "from stats.tests.test_api import post",
        "from .test_api import post",
        "from stats.tests import test_api",
        "from . import test_api",
        "import stats.tests.test_api",
        "def f():\n    from stats.tests.test_api import post\n",
    ]
    for n, text in enumerate(spellings):
        path = tmp_path / f"m{n}.py"
        path.write_text(text + "\n")
        assert imports_of_tests_found(path), text
    allowed = tmp_path / "ok.py"
    allowed.write_text("from stats.tests.api_support import post\nfrom stats.tests import support\n")
    assert imports_of_tests_found(allowed) == []


def test_each_game_slug_is_new_even_after_random_is_seeded_again():
    # pytest-randomly seeds `random` alike before every test: a slug drawn from it would repeat.
    slugs = []
    for _ in range(2):
        random.seed(1)
        slugs.append(game_slug_unique("x" * 60))
    assert slugs[0] != slugs[1]
    assert all(len(slug) <= 50 and re.fullmatch(SLUG_VALIDATOR.regex, slug) for slug in slugs), slugs


def test_the_game_fixture_is_a_game_of_its_own(game):
    assert game.slug.startswith("arena-") and game.slug != "arena"
    assert Game.objects.filter(slug=game.slug).count() == 1
