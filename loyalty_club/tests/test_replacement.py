from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestCardReplacement(LoyaltyClubCase):
    """Lost-card replacement moves the balance with ledger entries on both cards."""

    def _replace(self, card=None, **values):
        wizard = (
            self.env["loyalty.club.card.replace.wizard"]
            .with_user(self.club_user)
            .create({"card_id": (card or self.card).id, **values})
        )
        action = wizard.action_replace()
        return self.env["loyalty.club.card"].browse(action["res_id"])

    def test_replacement_moves_balance_lots_and_tier(self):
        with freeze_time("2025-03-01"):
            old_lot = self.post(400)
        with freeze_time("2025-09-01"):
            self.post(300)
            self.post(-100, "redeem")
            self.assertEqual(self.card.tier_id, self.silver)
            new = self._replace()
        self.assertEqual(self.card.state, "lost")
        self.assertEqual(self.card.replaced_by_id, new)
        self.assertEqual(new.replaces_id, self.card)
        self.assertEqual(self.card.balance, 0)
        self.assertEqual(new.balance, 600)
        self.assertEqual(new.tier_id, self.silver)
        transfers_in = new.entry_ids.filtered(lambda e: e.kind == "transfer").sorted("expiry_date")
        self.assertEqual(transfers_in.mapped("points"), [300, 300])
        self.assertEqual(transfers_in[0].expiry_date, old_lot.expiry_date, "expiry dates travel with the points")
        self.assertEqual(sum(self.card.entry_ids.filtered(lambda e: e.kind == "transfer").mapped("points")), -600)
        self.assertBalanceIsLedgerSum(self.card)
        self.assertBalanceIsLedgerSum(new)

    def test_replacement_with_preprinted_number(self):
        self.post(50)
        new = self._replace(new_number="79927398713")
        self.assertEqual(new.number, "79927398713")
        self.assertEqual(new.balance, 50)

    def test_negative_balance_travels_as_debt(self):
        earned = self.post(100)
        self.post(-100, "redeem")
        self.post(-100, "reverse", reversed_entry=earned, allow_negative=True)
        new = self._replace()
        self.assertEqual(self.card.balance, 0)
        self.assertEqual(new.balance, -100)
        self.assertBalanceIsLedgerSum(self.card)
        self.assertBalanceIsLedgerSum(new)

    def test_lost_card_cannot_come_back_and_links_are_protected(self):
        new = self._replace()
        with self.assertRaises(UserError):
            self.card.with_user(self.club_user).write({"state": "active"})
        with self.assertRaises(UserError):
            self.card.with_user(self.club_manager).action_unblock() or self.card.write({"state": "blocked"})
        with self.assertRaises(UserError):
            new.with_user(self.club_manager).write({"replaces_id": False})
        self.assertEqual(self.card.state, "lost")
        self.assertEqual(new.replaces_id, self.card)

    def test_a_card_is_replaced_once(self):
        self._replace()
        with self.assertRaises(UserError):
            self._replace()
