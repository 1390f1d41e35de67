"""pytest (pytest-odoo, ``./scripts/pytest.sh``) runs the tests Odoo's own runner runs, no more.

Odoo's loader (``odoo/tests/loader.py``, ``get_module_test_cases``) runs, in each test module, the
test classes defined there and only the test methods each class defines itself (unless it sets
``allow_inherited_tests_method``). pytest would also run a class imported into another test module
and every inherited method: tests that never run in the README's test command (a Persian subclass
of the POS tours would replay English-only tours). They are deselected here.
"""


def _odoo_runs(item):
    cls = getattr(item, "cls", None)
    if cls is None or item.module is None:
        return True
    if cls.__module__ != item.module.__name__:
        return False  # imported from another test module: runs there
    name = getattr(item, "originalname", None) or item.name
    return name in cls.__dict__ or getattr(cls, "allow_inherited_tests_method", False)


def pytest_collection_modifyitems(config, items):
    """Deselect the tests Odoo's runner does not run (see the module's docstring)."""
    dropped = [item for item in items if not _odoo_runs(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if _odoo_runs(item)]
