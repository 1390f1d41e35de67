from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestAccess(LoyaltyClubCase):
    """Acceptance 8: who may adjust, nobody edits entries, companies are kept apart."""

    def setUp(self):
        super().setUp()
        self.entry = self.post(100)

    def test_club_user_cannot_adjust_points(self):
        Wizard = self.env["loyalty.club.adjust.wizard"].with_user(self.club_user)
        with self.assertRaises(AccessError):
            Wizard.create({"card_id": self.card.id, "delta": 50, "reason": "Friend"})
        manager_wizard = (
            self.env["loyalty.club.adjust.wizard"]
            .with_user(self.club_manager)
            .create({"card_id": self.card.id, "delta": 50, "reason": "Friend"})
        )
        with self.assertRaises(AccessError):
            manager_wizard.with_user(self.club_user).action_apply()
        self.assertEqual(self.card.balance, 100)

    def test_manager_adjusts_with_reason_through_the_ledger(self):
        wizard = (
            self.env["loyalty.club.adjust.wizard"]
            .with_user(self.club_manager)
            .create({"card_id": self.card.id, "delta": -40, "reason": "Duplicate receipt"})
        )
        wizard.action_apply()
        adjustment = self.card.entry_ids.filtered(lambda e: e.kind == "adjust")
        self.assertEqual(adjustment.points, -40)
        self.assertEqual(adjustment.reason, "Duplicate receipt")
        self.assertEqual(adjustment.user_id, self.club_manager)
        self.assertEqual(adjustment.origin_model, "loyalty.club.adjust.wizard")
        self.assertBalanceIsLedgerSum()

    def test_adjustment_cannot_overdraw(self):
        wizard = (
            self.env["loyalty.club.adjust.wizard"]
            .with_user(self.club_manager)
            .create({"card_id": self.card.id, "delta": -101, "reason": "Too much"})
        )
        with self.assertRaisesRegex(UserError, "Not enough points"):
            wizard.action_apply()
        self.assertEqual(self.card.balance, 100)

    def test_nobody_edits_ledger_entries(self):
        for user in (self.club_user, self.club_manager):
            entry = self.entry.with_user(user)
            self.assertEqual(entry.points, 100, "entries are readable by club staff")
            with self.assertRaises(UserError):
                entry.write({"reason": "changed"})
            with self.assertRaises(UserError):
                entry.unlink()
            with self.assertRaises(UserError):
                self.env["loyalty.club.entry"].with_user(user).create(self.forged_entry_values("x"))

    def test_users_cannot_write_balance_or_pin_state(self):
        for field, value in (("balance", 5000), ("pin_locked", False), ("pin_failed_attempts", 0)):
            with self.subTest(field=field), self.assertRaises(UserError):
                self.card.with_user(self.club_manager).write({field: value})

    def test_other_company_sees_nothing(self):
        for model in (
            "loyalty.club",
            "loyalty.club.tier",
            "loyalty.club.card",
            "loyalty.club.entry",
            "loyalty.club.tier.history",
        ):
            records = self.env[model].with_user(self.other_manager).search([("company_id", "=", self.company.id)])
            self.assertFalse(records, f"{model} leaks across companies")
        with self.assertRaises(AccessError):
            self.card.with_user(self.other_manager).read(["balance"])
        with self.assertRaises(AccessError):
            self.entry.with_user(self.other_manager).read(["points"])
        self.assertFalse(self.env["loyalty.club.card"].with_user(self.other_manager)._find_by_number(self.card.number))

    def test_branch_shares_the_parent_club(self):
        branch = self.env["res.company"].create({"name": "Branch North", "parent_id": self.company.id})
        self.assertEqual(branch._loyalty_club_get(), self.club)
        branch_user = self.env["res.users"].create(
            {
                "name": "Branch cashier",
                "login": "branch_cashier",
                "company_id": branch.id,
                "company_ids": [(6, 0, [branch.id])],
                "groups_id": [(6, 0, [self.env.ref("loyalty_club.group_loyalty_club_user").id])],
            }
        )
        self.assertEqual(self.card.with_user(branch_user).balance, 100)
        entry = self.Posting.with_company(branch)._post(self.card, 10, "earn", "branch-sale")
        self.assertEqual(entry.branch_id, branch)
        self.assertEqual(entry.company_id, self.company)

    def test_club_belongs_to_a_root_company(self):
        branch = self.env["res.company"].create({"name": "Branch South", "parent_id": self.company.id})
        with self.assertRaises(Exception):  # noqa: B017 - ValidationError or unique violation
            self.env["loyalty.club"].create({"name": "Branch club", "company_id": branch.id})
