import base64
from datetime import date, timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..tools.card_number import is_valid_card_number, luhn_check_digit
from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestCardNumbersAndLookup(LoyaltyClubCase):
    """Acceptance 9 and card number rules."""

    def test_luhn(self):
        self.assertEqual(luhn_check_digit("7992739871"), "3")
        self.assertTrue(is_valid_card_number("79927398713"))
        self.assertFalse(is_valid_card_number("79927398710"))

    def test_generated_numbers_are_unique_valid_and_prefixed(self):
        cards = self.env["loyalty.club.card"].create(
            [{"partner_id": self.member2.id, "club_id": self.club.id} for _i in range(3)]
        )
        numbers = [*cards.mapped("number"), self.card.number]
        self.assertEqual(len(set(numbers)), 4)
        for number in numbers:
            self.assertTrue(number.startswith("7700"))
            self.assertEqual(len(number), 16)
            self.assertTrue(is_valid_card_number(number), number)

    def test_find_by_number(self):
        Card = self.env["loyalty.club.card"]
        self.assertEqual(Card._find_by_number(self.card.number), self.card)
        self.assertEqual(Card._find_by_number(f"  {self.card.number}\n"), self.card)
        persian = self.card.number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        self.assertEqual(Card._find_by_number(persian), self.card)

    def test_phone_lookup_local_iranian_format(self):
        Card = self.env["loyalty.club.card"].with_company(self.company)
        self.assertEqual(self.card.partner_phone_sanitized, "+989123456789")
        for typed in ("0912 345 6789", "09123456789", "+98 912 345 6789", "00989123456789", "۰۹۱۲۳۴۵۶۷۸۹"):
            with self.subTest(typed=typed):
                self.assertEqual(Card._find_by_phone(typed), self.card)

    def test_phone_lookup_reads_local_numbers_in_the_clubs_country_then_the_companys(self):
        """A club of a US company whose members have Iranian and US numbers: both are found by
        their local forms (the club's phone country first, then the company's) and by the
        international form (issue 25: '0912 345 6789' was read as American)."""
        us = self.env.ref("base.us")
        company = self.env["res.company"].create({"name": "Club US Retail", "country_id": us.id})
        club = self.env["loyalty.club"].create({"name": "US Club", "company_id": company.id, "card_prefix": "7741"})
        self.assertEqual(club.phone_country_id, us, "by default the company's country")
        Partner, Card = self.env["res.partner"], self.env["loyalty.club.card"].with_company(company)
        iranian = Partner.create({"name": "Sara Iran", "phone": "+98 912 345 6780"})
        american = Partner.create({"name": "John US", "phone": "+1 202 555 0147", "country_id": us.id})
        iranian_card, american_card = Card.create(
            [{"partner_id": partner.id, "club_id": club.id} for partner in (iranian, american)]
        )
        self.assertEqual(Card._find_by_phone("(202) 555-0147"), american_card)
        with self.assertRaises(ValidationError):
            Card._find_by_phone("0912 345 6780")  # read as American: no such number
        club.phone_country_id = self.env.ref("base.ir")
        for typed, card in (
            ("0912 345 6780", iranian_card),
            ("۰۹۱۲ ۳۴۵ ۶۷۸۰", iranian_card),
            ("+98 912 345 6780", iranian_card),
            ("(202) 555-0147", american_card),
            ("202-555-0147", american_card),
            ("+1 202 555 0147", american_card),
        ):
            with self.subTest(typed=typed):
                self.assertEqual(Card._find_by_phone(typed), card)
        self.assertEqual(Card._normalize_phone("0912 345 6780", company), "+989123456780")
        self.assertEqual(Card._lookup_key("0912 345 6780", company), Card._lookup_key("+989123456780", company))

    def test_phone_lookup_follows_the_partner(self):
        self.member.phone = "0935 222 3344"
        self.assertEqual(
            self.env["loyalty.club.card"].with_company(self.company)._find_by_phone("09352223344"), self.card
        )

    def test_phone_lookup_skips_inactive_cards_and_rejects_garbage(self):
        Card = self.env["loyalty.club.card"].with_company(self.company)
        self.card.action_block()
        self.assertFalse(Card._find_by_phone("09123456789"))
        for typed in ("", "abc", "12", None):
            with self.subTest(typed=typed), self.assertRaises(ValidationError):
                Card._find_by_phone(typed)

    def test_card_shows_qr_code_and_barcode_of_its_number(self):
        png_header = b"\x89PNG"
        self.assertEqual(base64.b64decode(self.card.qr_code)[:4], png_header)
        self.assertEqual(base64.b64decode(self.card.barcode_image)[:4], png_header)
        self.assertEqual(base64.b64decode(self.card.qr_code), self.card._qr_png(self.card.number))

    def test_cards_past_validity_expire(self):
        self.card.date_expiry = date.today() - timedelta(days=1)
        still_valid = self.env["loyalty.club.card"].create(
            {"partner_id": self.member2.id, "club_id": self.club.id, "date_expiry": date.today()}
        )
        expired = self.env["loyalty.club.card"]._cron_expire_cards()
        self.assertIn(self.card.id, expired)
        self.assertEqual(self.card.state, "expired")
        self.assertEqual(still_valid.state, "active")
