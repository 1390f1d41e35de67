import unittest
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import LoyaltyClubCase


# Needs Odoo's own Loyalty app, which auto-installs sale_loyalty and pos_loyalty and so changes
# Sales and the POS: "-standard" keeps it out of the main run; scripts/test.sh runs it in a
# second database where "loyalty" is installed (tag loyalty_club_native).
@tagged("-standard", "loyalty_club_native", "post_install", "-at_install")
class TestNativeMigration(LoyaltyClubCase):
    """Loyalty cards, eWallets and gift cards of Odoo's Loyalty app move into the club once:
    balances are equal afterwards and a second run changes nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "loyalty.card" not in cls.env:
            raise unittest.SkipTest("Odoo's Loyalty app (module loyalty) is not installed")
        Program = cls.env["loyalty.program"]
        Native = cls.env["loyalty.card"].with_context(loyalty_no_mail=True)
        cls.loyalty = Program.create({"name": "Old Loyalty", "program_type": "loyalty", "company_id": cls.company.id})
        cls.ewallet = Program.create({"name": "Old eWallet", "program_type": "ewallet", "company_id": cls.company.id})
        cls.gift = Program.create({"name": "Old Gift Cards", "program_type": "gift_card", "company_id": cls.company.id})
        cls.elsewhere = Program.create(
            {"name": "Other chain", "program_type": "loyalty", "company_id": cls.other_company.id}
        )
        cls.customer = cls.env["res.partner"].create({"name": "Native Customer", "phone": "+98 912 999 0001"})
        cls.wallet_owner = cls.env["res.partner"].create({"name": "Wallet Owner"})

        def card(program, points, partner=None, **values):
            return Native.create(
                {"program_id": program.id, "points": points, "partner_id": partner.id if partner else False, **values}
            )

        cls.native_customer = card(cls.loyalty, 150, cls.customer)
        cls.native_sara = card(cls.loyalty, 40.5, cls.member)  # Sara holds a club card already
        cls.native_anonymous = card(cls.loyalty, 80)
        cls.native_zero = card(cls.loyalty, 0, cls.member2)
        cls.native_wallet = card(cls.ewallet, 25.0, cls.wallet_owner)
        cls.native_gift = card(cls.gift, 30.0)
        cls.native_gift_owned = card(cls.gift, 12.5, cls.customer)
        cls.native_gift_empty = card(cls.gift, 0.0)
        cls.native_gift_expired = card(cls.gift, 20.0, expiration_date=fields.Date.today() - timedelta(days=1))
        cls.native_other_chain = card(cls.elsewhere, 500, cls.customer)
        cls.native_cards = Native.search([("program_id", "in", (cls.loyalty | cls.ewallet | cls.gift).ids)])

    def migrate(self, **values):
        wizard = self.env["loyalty.club.native.migration.wizard"].with_user(self.club_manager).create(values)
        self.assertTrue(wizard.native_loyalty_installed)
        wizard.action_migrate()
        return wizard

    def line_of(self, wizard, native):
        return wizard.line_ids.filtered(lambda line: line.native_card_id == native.id)

    def state(self):
        self.env.flush_all()
        return {
            "cards": self.env["loyalty.club.card"].search_read([], ["balance", "tier_id", "partner_id"], order="id"),
            "entries": self.env["loyalty.club.entry"].search_count([]),
            "gift_cards": self.env["loyalty.club.gift.card"].search_read([], ["balance", "state"], order="id"),
            "gift_entries": self.env["loyalty.club.gift.card.entry"].search_count([]),
            "partners": self.env["res.partner"].search_count([]),
            "native_active": self.env["loyalty.card"].search_count([("id", "in", self.native_cards.ids)]),
        }

    def test_balances_are_equal_after_migration_and_a_second_run_changes_nothing(self):
        wizard = self.migrate()
        Card = self.env["loyalty.club.card"]

        customer_card = Card.search([("partner_id", "=", self.customer.id), ("club_id", "=", self.club.id)])
        self.assertEqual(len(customer_card), 1)
        self.assertEqual(customer_card.balance, 150, "loyalty points become the same number of club points")
        opening = customer_card.entry_ids
        self.assertEqual(opening.kind, "opening")
        self.assertEqual(opening.posting_key, f"native:loyalty.card:{self.native_customer.id}:opening")
        self.assertEqual(opening.origin_reference, self.native_customer)
        self.assertEqual(self.line_of(wizard, self.native_customer).result, "moved")
        self.assertBalanceIsLedgerSum(customer_card)

        self.assertEqual(self.card.balance, 41, "Sara's existing card gets her points, rounded")
        self.assertIn("Rounded from 40.5", self.line_of(wizard, self.native_sara).reason)
        self.assertEqual(Card.search_count([("partner_id", "=", self.member.id)]), 1, "no second card")

        wallet_card = Card.search([("partner_id", "=", self.wallet_owner.id)])
        self.assertEqual(wallet_card.balance, 50, "25.00 at 0.50 per point")
        self.assertEqual(wallet_card.balance_value, 25.0, "an eWallet keeps its value")

        zero_card = Card.search([("partner_id", "=", self.member2.id)])
        self.assertEqual((zero_card.balance, len(zero_card.entry_ids)), (0, 0), "a member card, nothing to post")

        gift_line = self.line_of(wizard, self.native_gift)
        self.assertEqual(gift_line.result, "moved")
        gift = gift_line.gift_card_id
        self.assertEqual((gift.balance, gift.state, gift.currency_id), (30.0, "active", self.gift.currency_id))
        self.assertEqual(gift.entry_ids.posting_key, f"native:loyalty.card:{self.native_gift.id}:gift_load")
        owned = self.line_of(wizard, self.native_gift_owned).gift_card_id
        self.assertEqual((owned.balance, owned.partner_id), (12.5, self.customer))
        self.assertFalse(self.env["loyalty.club.posting"]._audit_gift_cards(gift | owned))

        skipped = {
            self.native_anonymous: "No customer",
            self.native_gift_empty: "No balance",
            self.native_gift_expired: "Expired",
        }
        for native, reason in skipped.items():
            line = self.line_of(wizard, native)
            self.assertEqual(line.result, "skipped", native.code)
            self.assertIn(reason, line.reason)
            self.assertTrue(native.active, "a skipped card stays in Odoo Loyalty")
        self.assertFalse(self.line_of(wizard, self.native_other_chain), "another company's program is left out")
        for native in (self.native_customer, self.native_sara, self.native_wallet, self.native_gift, self.native_zero):
            self.assertFalse(native.active, f"{native.code} is archived, so it cannot be spent twice")
        self.assertEqual(
            (wizard.moved_card_count, wizard.moved_points, wizard.moved_gift_card_count, wizard.skipped_count),
            (4, 150 + 41 + 50, 2, 3),
        )
        self.assertEqual(customer_card.tier_id, self.bronze)

        before = self.state()
        again = self.migrate()
        self.assertEqual(self.state(), before, "a second migration changes nothing")
        self.assertEqual(self.line_of(again, self.native_customer).result, "already")
        self.assertEqual(self.line_of(again, self.native_gift).gift_card_id, gift)
        self.assertEqual(again.moved_card_count + again.moved_gift_card_count, 0)

    def test_without_archiving_a_second_run_still_moves_nothing_twice(self):
        self.migrate(archive_native=False, migrate_gift_card=False)
        self.assertTrue(self.native_customer.active)
        self.assertTrue(self.native_gift.active, "gift cards were not chosen")
        before = self.state()
        self.native_customer.points = 175  # spent or earned in Odoo Loyalty since
        again = self.migrate(archive_native=False, migrate_gift_card=False)
        self.assertEqual(self.state(), before)
        self.assertEqual(self.line_of(again, self.native_customer).points, 150, "moved once, with its first balance")

    def test_tier_follows_the_migrated_points(self):
        self.native_customer.points = 2500
        self.migrate()
        card = self.env["loyalty.club.card"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(card.tier_id, self.gold)
        self.assertEqual(card.tier_history_ids.reason, "import")
