import logging
import threading
import traceback
from contextlib import contextmanager

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.modules.registry import DummyRLock, Registry
from odoo.service.model import retrying
from odoo.tests import TransactionCase, new_test_user


class LoyaltyClubCase(TransactionCase):
    """A company of its own (in Iran) with a club, three tiers, members and users.

    Nothing here comes from demo data: the test database may or may not have it.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        cls.company = cls.env["res.company"].create(
            {
                "name": "Club Test Retail",
                "country_id": cls.env.ref("base.ir").id,
            }
        )
        cls.other_company = cls.env["res.company"].create({"name": "Other Chain"})
        cls.club = cls.env["loyalty.club"].create(
            {
                "name": "Test Club",
                "company_id": cls.company.id,
                "earn_amount": 10,
                "earn_points": 1,
                "point_value": 0.5,
                "expiry_months": 12,
                "pin_length": 4,
                "pin_max_attempts": 3,
                "pin_lock_minutes": 15,
                "card_prefix": "7700",
                "tier_metric": "points",
                "tier_window": "lifetime",
                "tier_grace_days": 30,
            }
        )
        Tier = cls.env["loyalty.club.tier"]
        cls.bronze = Tier.create({"name": "Bronze", "club_id": cls.club.id, "threshold": 0})
        cls.silver = Tier.create({"name": "Silver", "club_id": cls.club.id, "threshold": 500, "earn_multiplier": 1.25})
        cls.gold = Tier.create({"name": "Gold", "club_id": cls.club.id, "threshold": 2000, "earn_multiplier": 1.5})
        cls.member = cls.env["res.partner"].create(
            {
                "name": "Sara Test",
                "phone": "+98 912 345 6789",
                "country_id": cls.env.ref("base.ir").id,
            }
        )
        cls.member2 = cls.env["res.partner"].create({"name": "Reza Test", "phone": "+98 935 000 1122"})
        cls.card = cls.env["loyalty.club.card"].create({"partner_id": cls.member.id, "club_id": cls.club.id})
        cls.Posting = cls.env["loyalty.club.posting"]
        cls.club_user = new_test_user(
            cls.env,
            "club_user",
            groups="base.group_user,loyalty_club.group_loyalty_club_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.club_manager = new_test_user(
            cls.env,
            "club_manager",
            groups="base.group_user,loyalty_club.group_loyalty_club_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.other_manager = new_test_user(
            cls.env,
            "other_manager",
            groups="base.group_user,loyalty_club.group_loyalty_club_manager",
            company_id=cls.other_company.id,
            company_ids=[cls.other_company.id],
        )

    def post(self, points, kind="earn", key=None, card=None, **kwargs):
        """Post through the service with a fresh key unless one is given."""
        card = card or self.card
        self._key_counter = getattr(self, "_key_counter", 0) + 1
        key = key or f"test:{self._testMethodName}:{self._key_counter}:{kind}"
        return self.Posting._post(card, points, kind, key, **kwargs)

    def assertBalanceIsLedgerSum(self, card=None):
        card = card or self.card
        card.invalidate_recordset(["balance"])
        entries = self.env["loyalty.club.entry"].search([("card_id", "=", card.id)])
        self.assertEqual(card.balance, sum(entries.mapped("points")), "balance must equal the ledger sum")
        self.assertFalse(self.Posting._audit_balances(card))
        open_lots = sum(entries.mapped("points_remaining"))
        self.assertEqual(open_lots, max(card.balance, 0), "unspent lots must add up to the positive balance")

    def forged_entry_values(self, key="forged"):
        """Values of a ledger entry written directly, bypassing the posting service."""
        return {
            "card_id": self.card.id,
            "partner_id": self.member.id,
            "club_id": self.club.id,
            "company_id": self.company.id,
            "kind": "earn",
            "points": 5,
            "posting_key": key,
        }

    def ledger_count(self):
        return self.env["loyalty.club.entry"].search_count([])


class CommittedClubMixin:
    """Helpers for tests that need data visible to other cursors (threads, fresh cursors)."""

    @contextmanager
    def committed_env(self):
        with self.env.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    @contextmanager
    def _error_log_lines(self):
        """Collect what any thread logs at ERROR level or above (also on muted loggers)."""
        records = []

        class Collect(logging.Handler):
            def emit(self, record):
                records.append(self.format(record))

        handler = Collect(logging.ERROR)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            yield records
        finally:
            root.removeHandler(handler)

    def _run_threads(self, count, target):
        # The test runner holds the registry lock while tests run; the threads only look the
        # loaded registry up (api.Environment, retrying's reset), so let them through, as
        # Registry.enter_test_mode does.
        self.patch(Registry, "_lock", DummyRLock())
        barrier = threading.Barrier(count)
        outcomes = [None] * count

        def run(index):
            try:
                with self.env.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(timeout=30)
                    retrying(lambda: target(env, index), env)
                outcomes[index] = "ok"
            except UserError:
                outcomes[index] = "refused"
            except Exception:
                outcomes[index] = traceback.format_exc()

        threads = [threading.Thread(target=run, args=(i,), name=f"club-test-{i}") for i in range(count)]
        for thread in threads:
            thread.dbname = self.env.cr.dbname
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse([t for t in threads if t.is_alive()], "a caller is still waiting after 120 s")
        return outcomes

    def _card_state(self, card_id):
        """Balance, kinds of entries and audit mismatches of a card, read from a fresh cursor."""
        with self.committed_env() as env:
            card = env["loyalty.club.card"].browse(card_id)
            kinds = env["loyalty.club.entry"].search([("card_id", "=", card_id)]).mapped("kind")
            return card.balance, kinds, env["loyalty.club.posting"]._audit_balances(card)

    def make_committed_card(self, balance=0, tag="c"):
        """Commit a company, club and card (with ``balance`` earned points); cleaned up afterwards."""
        with self.committed_env() as env:
            company = env["res.company"].create({"name": f"Committed {tag} {self._testMethodName}"})
            club = env["loyalty.club"].create(
                {
                    "name": f"Committed club {tag}",
                    "company_id": company.id,
                    "pin_max_attempts": 3,
                    "pin_lock_minutes": 0,
                    "expiry_months": 0,
                }
            )
            partner = env["res.partner"].create({"name": f"Committed member {tag}"})
            card = env["loyalty.club.card"].create({"partner_id": partner.id, "club_id": club.id})
            if balance:
                env["loyalty.club.posting"]._post(card, balance, "earn", f"committed:{card.id}:seed")
            ids = {"company": company.id, "club": club.id, "partner": partner.id, "card": card.id}
        self.addCleanup(self._cleanup_committed, ids)
        return ids

    def _cleanup_committed(self, ids):
        with self.committed_env() as env:
            cr = env.cr
            # The ledger refuses deletes by design; a test database may bypass its triggers.
            cr.execute("SET LOCAL session_replication_role = replica")
            cr.execute("DELETE FROM loyalty_club_hold WHERE card_id = %s", [ids["card"]])
            cr.execute("DELETE FROM loyalty_club_tier_history WHERE card_id = %s", [ids["card"]])
            cr.execute(
                """DELETE FROM loyalty_club_lot_consumption
                    WHERE debit_entry_id IN (SELECT id FROM loyalty_club_entry WHERE card_id = %s)""",
                [ids["card"]],
            )
            cr.execute("DELETE FROM loyalty_club_entry WHERE card_id = %s", [ids["card"]])
            cr.execute("DELETE FROM loyalty_club_qualifying_total WHERE card_id = %s", [ids["card"]])
            cr.execute("DELETE FROM loyalty_club_card WHERE id = %s", [ids["card"]])
            cr.execute("DELETE FROM loyalty_club WHERE id = %s", [ids["club"]])
            # the company stays (too much refers to it); its name is free again for a later run on a kept database
            cr.execute("UPDATE res_company SET name = name || ' #' || id WHERE id = %s", [ids["company"]])
