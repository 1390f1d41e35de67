import importlib.util
import io
from contextlib import redirect_stdout
from pathlib import Path

from odoo.tests import HttpCase, tagged

SMOKE_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_smoke.py"


@tagged("post_install", "-at_install")
class TestDemoSmoke(HttpCase):
    """The demo (a smoke test about the demo data, so it relies on them): scripts/demo_smoke.py
    logs in as admin, the cashier, the Persian user and the portal customer and walks the flows
    the README advertises, here against this test server. ``./scripts/run.sh --smoke`` runs the
    same walk on the demo database itself (with Odoo's Persian translations loaded)."""

    def test_demo_walk(self):
        if not self.env.ref("loyalty_club.demo_club", raise_if_not_found=False):
            self.skipTest("loyalty_club was installed without demo data")
        if not SMOKE_SCRIPT.exists():
            self.skipTest(f"{SMOKE_SCRIPT} is not there (the addon runs outside its repository)")
        spec = importlib.util.spec_from_file_location("loyalty_club_demo_smoke", SMOKE_SCRIPT)
        smoke_module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(smoke_module)
        smoke = smoke_module.Smoke(self.base_url(), self.env.cr.dbname, odoo_translations=False)
        output = io.StringIO()
        with redirect_stdout(output):
            passed = smoke.run()
        self.assertTrue(passed, f"demo smoke test failed:\n{output.getvalue()}")
        self.assertGreater(smoke.passed, 30, output.getvalue())
