from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestOpeningPostings(LoyaltyClubCase):
    """The posting service's opening balances: one by one or a batch at once, exactly once."""

    def test_opening_is_a_credit_that_does_not_change_the_tier(self):
        entry = self.post(2500, "opening", key="opening:single")
        self.assertEqual((entry.kind, entry.qualifying, self.card.balance), ("opening", True, 2500))
        self.assertNotEqual(self.card.tier_id, self.gold, "the importer sets the tier, not the posting")
        with self.assertRaises(ValidationError):
            self.post(-5, "opening")

    def test_batch_posts_each_key_once_and_repays_a_debt(self):
        other = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        self.post(-30, "adjust", allow_negative=True)
        items = [
            {"card": self.card, "points": 50, "key": "opening:a", "reason": "A"},
            {"card": other, "points": 70, "key": "opening:b", "expiry_date": False},
        ]
        entries = self.Posting._post_openings(items)
        self.assertEqual(entries.mapped("points"), [50, 70])
        self.assertEqual(entries[0].points_remaining, 20, "the opening repays the debt first")
        self.assertFalse(entries[1].expiry_date)
        self.assertEqual(entries[0].expiry_date, self.club._expiry_date_from(fields.Date.today()))
        self.assertEqual((self.card.balance, other.balance), (20, 70))
        again = self.Posting._post_openings(items)
        self.assertEqual(again, entries, "the same keys again return the same entries")
        self.assertEqual((self.card.balance, other.balance), (20, 70))
        for card in self.card | other:
            self.assertBalanceIsLedgerSum(card)
        with self.assertRaisesRegex(ValidationError, "already used for another movement"):
            self.Posting._post_openings([{"card": other, "points": 71, "key": "opening:b"}])
        with self.assertRaisesRegex(ValidationError, "appears twice"):
            self.Posting._post_openings(
                [{"card": other, "points": 1, "key": "k"}, {"card": other, "points": 2, "key": "k"}]
            )
        with self.assertRaises(ValidationError):
            self.Posting._post_openings([{"card": other, "points": 0, "key": "zero"}])

    def test_card_numbers_in_bulk_and_tiers_in_bulk(self):
        Card = self.env["loyalty.club.card"]
        numbers = Card._generate_numbers(self.club, 3)
        single = Card._generate_number(self.club)
        self.assertEqual(len({*numbers, single}), 4)
        for number in [*numbers, single]:
            self.assertEqual(Card._check_number_format(number), number)
            self.assertTrue(number.startswith(self.club.card_prefix))
        self.assertEqual(int(single[4:15]), int(numbers[-1][4:15]) + 1, "one sequence for both")
        other = Card.create({"partner_id": self.member2.id, "club_id": self.club.id})
        history = self.env["loyalty.club.tier.history"].search_count([])
        Card._change_tiers(
            [
                (self.card.id, self.card.tier_id.id, self.gold.id, "import", "bulk"),
                (other.id, other.tier_id.id, other.tier_id.id, "import", "bulk"),
            ],
            notify=False,
        )
        self.assertEqual(self.card.tier_id, self.gold)
        self.assertEqual(self.card.tier_since, fields.Date.today())
        self.assertEqual(
            self.env["loyalty.club.tier.history"].search_count([]), history + 1, "unchanged tiers are left alone"
        )
