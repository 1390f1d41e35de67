import unittest

from lxml import etree

from odoo.tests import Form, tagged

from .common import LoyaltyClubCase


# Needs Odoo's own Loyalty app: runs in the second database of scripts/test.sh (see
# test_native_migration.py).
@tagged("-standard", "loyalty_club_native", "post_install", "-at_install")
class TestNativeCoexistence(LoyaltyClubCase):
    """Issue 22, item 10: with Odoo's Loyalty app installed beside the club, the contact's
    *Loyalty Cards* button counts and opens the native cards, the club's button its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "loyalty.card" not in cls.env:
            raise unittest.SkipTest("Odoo's Loyalty app (module loyalty) is not installed")
        program = cls.env["loyalty.program"].create(
            {"name": "Native points", "program_type": "loyalty", "company_id": cls.company.id}
        )
        cls.native_card = (
            cls.env["loyalty.card"]
            .with_context(loyalty_no_mail=True)
            .create({"program_id": program.id, "partner_id": cls.member.id, "points": 10})
        )
        cls.second_club_card = cls.env["loyalty.club.card"].create(
            {"partner_id": cls.member.id, "club_id": cls.club.id}
        )

    def test_both_counts_and_actions_are_their_own(self):
        member = self.member.with_company(self.company).with_context(allowed_company_ids=self.company.ids)
        self.assertEqual(member.loyalty_card_count, 1, "the native button counts the native card only")
        self.assertEqual(member.loyalty_club_card_count, 2, "the club's button counts the club's cards")
        native = member.action_view_loyalty_cards()
        self.assertEqual(native["res_model"], "loyalty.card")
        self.assertEqual(self.env["loyalty.card"].search(native["domain"]), self.native_card)
        club = member.action_view_loyalty_club_cards()
        self.assertEqual(club["res_model"], "loyalty.club.card")
        self.assertEqual(self.env["loyalty.club.card"].search(club["domain"]), self.card | self.second_club_card)

    def test_contact_form_shows_both_buttons(self):
        self.env.user.groups_id |= self.env.ref("loyalty_club.group_loyalty_club_user") | self.env.ref(
            "base.group_system"
        )
        arch = etree.fromstring(self.env["res.partner"].get_view(view_type="form")["arch"])
        buttons = {button.get("name") for button in arch.iterfind(".//div[@name='button_box']/button")}
        self.assertLessEqual({"action_view_loyalty_cards", "action_view_loyalty_club_cards"}, buttons)
        form = Form(self.member.with_context(allowed_company_ids=self.company.ids))
        self.assertEqual(form.loyalty_club_card_count, 2)
        self.assertEqual(form.loyalty_card_count, 1)

    def test_contact_merge_with_both_apps(self):
        """Odoo's Loyalty merges its own cards in the same wizard; both merges go through."""
        self.Posting._post(self.card, 40, "earn", "test:coexistence:merge")
        survivor = self.env["res.partner"].create({"name": "Sara (other contact)"})
        self.env["base.partner.merge.automatic.wizard"]._merge((self.member | survivor).ids, dst_partner=survivor)
        self.assertEqual(self.native_card.partner_id, survivor)
        self.assertEqual((self.card | self.second_club_card).partner_id, survivor)
        self.assertEqual(self.second_club_card.replaced_by_id, self.card, "one active club card is kept")
        self.assertEqual(self.card.balance, 40)
        self.assertFalse(self.Posting._audit_balances(self.card | self.second_club_card))
