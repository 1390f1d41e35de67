from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestBadInput(LoyaltyClubCase):
    """Acceptance 10: clear errors and nothing written."""

    def _counts(self):
        return (self.ledger_count(), self.env["loyalty.club.card"].search_count([]), self.card.balance)

    def test_bad_amounts_in_the_adjust_wizard(self):
        self.post(20)
        before = self._counts()
        Wizard = self.env["loyalty.club.adjust.wizard"].with_user(self.club_manager)
        with self.assertRaises(ValidationError):
            Wizard.create({"card_id": self.card.id, "delta": 0, "reason": "zero"}).action_apply()
        with self.assertRaises(ValidationError):
            Wizard.create({"card_id": self.card.id, "delta": 5, "reason": "   "}).action_apply()
        with self.assertRaises(ValidationError):
            Wizard.create({"card_id": self.card.id, "delta": 10**9, "reason": "huge"}).action_apply()
        with self.assertRaises(UserError):
            Wizard.create({"card_id": self.card.id, "delta": -21, "reason": "negative past zero"}).action_apply()
        self.assertEqual(self._counts(), before)

    def test_malformed_card_numbers(self):
        before = self._counts()
        Card = self.env["loyalty.club.card"]
        valid = self.card.number
        bad_check_digit = valid[:-1] + str((int(valid[-1]) + 1) % 10)
        for number in (
            bad_check_digit,
            valid[:8] + " " + valid[8:],
            valid[:-2] + "A" + valid[-1],
            "1234",
            "9" * 25,
            "",
            "  ",
            None,
            7700000000000016,
        ):
            with self.subTest(number=number):
                with self.assertRaises(ValidationError):
                    Card._find_by_number(number)
                with self.assertRaises(ValidationError):
                    Card.create(
                        {"partner_id": self.member2.id, "club_id": self.club.id, "number": number}
                        if number
                        else {"partner_id": self.member2.id, "club_id": self.club.id, "number": "x"}
                    )
        self.assertEqual(self._counts(), before)

    @mute_logger("odoo.sql_db")
    def test_preprinted_valid_number_is_accepted_once(self):
        Card = self.env["loyalty.club.card"]
        card = Card.create({"partner_id": self.member2.id, "club_id": self.club.id, "number": "79927398713"})
        self.assertEqual(card.number, "79927398713")
        with self.assertRaises(Exception):  # noqa: B017 - unique violation
            with self.env.cr.savepoint():
                Card.create({"partner_id": self.member2.id, "club_id": self.club.id, "number": "79927398713"})

    def test_bad_pins(self):
        for pin in ("12", "1234567", "abcd", "12.4", "-123"):
            with self.subTest(pin=pin), self.assertRaises(ValidationError):
                self.card._set_pin(pin)
        self.assertFalse(self.card.pin_set)

    def test_protected_fields_refused_on_create(self):
        with self.assertRaises(UserError):
            self.env["loyalty.club.card"].create(
                {"partner_id": self.member2.id, "club_id": self.club.id, "balance": 1000}
            )

    @mute_logger("odoo.sql_db")
    def test_bad_club_settings(self):
        for values in (
            {"pin_length": 3},
            {"pin_length": 7},
            {"earn_amount": 0},
            {"earn_amount": -1},
            {"card_prefix": "77A"},
            {"card_prefix": ""},
            {"expiry_months": -1},
            {"tier_weight_amount": -1},
        ):
            with self.subTest(values=values), self.assertRaises(Exception), self.env.cr.savepoint():  # noqa: B017
                self.club.write(values)
                self.club.flush_recordset()

    def test_bad_reversals_are_refused_and_change_nothing(self):
        earned = self.post(10)
        other = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        count = self.ledger_count()
        for points, entry, card in (
            (-5, earned, self.card),  # a negative reversal would credit the card
            (0, earned, self.card),
            (2.5, earned, self.card),
            (float("nan"), earned, self.card),
            (11, earned, self.card),  # more than the entry credited
            (5, earned, other),  # another card's entry
        ):
            with self.subTest(points=points), self.assertRaises(ValidationError):
                self.Posting._post_reversal(card, points, f"bad-reversal:{points}:{card.id}", entry)
        self.Posting._post_reversal(self.card, 6, "reversal:ok", earned)
        with self.assertRaisesRegex(ValidationError, "already taken back"):
            self.Posting._post_reversal(self.card, 5, "reversal:too-much", earned)
        self.assertEqual(self.ledger_count(), count + 1)
        self.assertBalanceIsLedgerSum()
