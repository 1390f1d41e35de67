from freezegun import freeze_time
from psycopg2 import errors

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestPartnerMerge(LoyaltyClubCase):
    """Issue 22, item 9: Odoo's contact merge works for members with ledger entries; cards and
    entries move to the surviving contact through the club's own path only, one active card per
    club is kept, balances and tiers are right afterwards."""

    def _merge(self, partners, dst):
        self.env["base.partner.merge.automatic.wizard"]._merge(partners.ids, dst_partner=dst)

    def _entries(self, partner):
        return self.env["loyalty.club.entry"].search([("partner_id", "=", partner.id)])

    def test_merge_two_members_with_history(self):
        """Both contacts hold an active card with history: the surviving contact's card is kept,
        the other one is replaced by it (balance transferred lot by lot), every entry now names
        the surviving contact, balance = sum of entries, the tier is recomputed."""
        survivor = self.member2
        survivor_card = self.env["loyalty.club.card"].create({"partner_id": survivor.id, "club_id": self.club.id})
        with freeze_time("2025-01-10"):
            sara_lot = self.post(400, purchase_count=1)
            self.post(-100, "redeem")
            self.post(300, card=survivor_card, purchase_count=1)
        self.assertEqual((self.card.tier_id, survivor_card.tier_id), (self.bronze, self.bronze))
        gift = self.env["loyalty.club.gift.card"].create({"club_id": self.club.id, "partner_id": self.member.id})
        sara_entries = self._entries(self.member)
        with freeze_time("2025-02-01"):
            self._merge(self.member | survivor, survivor)
        self.assertFalse(self.member.exists())
        # cards: one active card left, the other replaced by it
        cards = self.env["loyalty.club.card"].search([("partner_id", "=", survivor.id)])
        self.assertEqual(cards, self.card | survivor_card)
        self.assertEqual(survivor_card.state, "active")
        self.assertEqual(self.card.state, "lost")
        self.assertEqual(self.card.replaced_by_id, survivor_card)
        self.assertEqual(self.card._active_successor(), survivor_card)
        # entries: moved, none lost, balances = ledger
        self.assertEqual(sara_entries.mapped("partner_id"), survivor)
        self.assertFalse(self.env["loyalty.club.entry"].search([("partner_id", "=", self.member.id)]))
        self.assertEqual((self.card.balance, survivor_card.balance), (0, 600))
        self.assertBalanceIsLedgerSum(self.card)
        self.assertBalanceIsLedgerSum(survivor_card)
        moved_in = survivor_card.entry_ids.filtered(lambda e: e.kind == "transfer")
        self.assertEqual(moved_in.expiry_date, sara_lot.expiry_date, "the moved lot keeps its expiry")
        # tier metric: both histories together (400 + 300 points earned), tier Silver at once
        self.assertEqual(survivor_card._tier_metric_values()[survivor_card.id], 700)
        self.assertEqual(survivor_card.tier_id, self.silver)
        self.assertFalse(self.env["loyalty.club.qualifying.total"]._check_against_ledger())
        self.assertFalse(self.env["loyalty.club.qualifying.total"].search([("partner_id", "=", self.member.id)]))
        self.assertEqual(self.card.tier_history_ids.partner_id, survivor)
        self.assertEqual(gift.partner_id, survivor)
        self.assertFalse(self.Posting._audit_chains(), "the moved entries keep their hash chain")
        # the merge is logged on both cards
        self.assertTrue(any("its 2 ledger entries" in body for body in self.card.message_ids.mapped("body")))
        self.assertTrue(any("replaced by this card" in body for body in survivor_card.message_ids.mapped("body")))
        self.assertEqual(survivor_card.partner_phone_sanitized, survivor.phone_sanitized)

    def test_merge_into_a_contact_without_card_moves_the_card(self):
        newcomer = self.env["res.partner"].create({"name": "Sara (duplicate)"})
        self.post(120)
        self._merge(self.member | newcomer, newcomer)
        self.assertEqual(self.card.partner_id, newcomer)
        self.assertEqual(self.card.state, "active")
        self.assertEqual(self.card.balance, 120)
        self.assertEqual(self._entries(newcomer).card_id, self.card)
        self.assertEqual(newcomer.loyalty_club_card_count, 1)
        self.assertBalanceIsLedgerSum()

    def test_merged_member_keeps_the_best_tier(self):
        """A card whose tier came from an import keeps its member's tier after the merge."""
        survivor_card = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        self.card._change_tier(self.gold, "import")
        self._merge(self.member | self.member2, self.member2)
        self.assertEqual(survivor_card.tier_id, self.gold)
        self.assertEqual(survivor_card.tier_history_ids.sorted("id")[-1].reason, "merge")

    def test_ledger_still_refuses_any_other_change_of_its_member(self):
        self.post(10)
        entry = self._entries(self.member)
        self.env.flush_all()
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(errors.IntegrityConstraintViolation),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(
                "UPDATE loyalty_club_entry SET partner_id = %s WHERE id = %s", [self.member2.id, entry.id]
            )
        # the setting of the merge path allows only its own contacts, and nothing but the member
        self.env.cr.execute(
            "SELECT set_config('loyalty_club.partner_merge', %s, true)", [f"{self.member2.id}:{self.member.id}"]
        )
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(errors.IntegrityConstraintViolation),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(
                "UPDATE loyalty_club_entry SET partner_id = %s, points = 11 WHERE id = %s", [self.member2.id, entry.id]
            )
        other = self.env["res.partner"].create({"name": "Third party"})
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(errors.IntegrityConstraintViolation),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute("UPDATE loyalty_club_entry SET partner_id = %s WHERE id = %s", [other.id, entry.id])
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(errors.IntegrityConstraintViolation),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute("DELETE FROM loyalty_club_entry WHERE id = %s", [entry.id])
        self.env.cr.execute("SELECT set_config('loyalty_club.partner_merge', '', true)")

    def test_merge_of_contacts_without_club_records_changes_nothing(self):
        first = self.env["res.partner"].create({"name": "Plain A"})
        second = self.env["res.partner"].create({"name": "Plain B"})
        count = self.ledger_count()
        self._merge(first | second, second)
        self.assertFalse(first.exists())
        self.assertEqual(self.ledger_count(), count)

    def test_self_referral_is_forgotten(self):
        referrer_card = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        self.card.referred_by_card_id = referrer_card
        self._merge(self.member | self.member2, self.member2)
        self.assertFalse(self.card.referred_by_card_id)

    def test_merge_gives_no_profile_bonus(self):
        rule = self.env["loyalty.club.bonus.rule"].create(
            {"name": "Profile", "club_id": self.club.id, "kind": "profile", "points": 25}
        )
        survivor = self.env["res.partner"].create({"name": "Sara again", "email": "sara@example.com"})
        self.member.write({"email": "sara@example.com"})
        count = self.ledger_count()
        self.member.write({"loyalty_birthday": "1990-05-01"})
        self.assertEqual(self.ledger_count(), count + 1, "Sara completed her profile: one bonus")
        self.assertTrue(rule)
        self._merge(self.member | survivor, survivor)
        self.assertEqual(self.ledger_count(), count + 1, "the merged contact gets no second profile bonus")
