from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from .common import LoyaltyClubCase

TODAY = datetime(2026, 6, 30, 12, 0)

# A hand-made history: days ago of each purchase (one purchase a day) and its amount.
# Expected figures and scores worked out by hand (10 members with purchases: 2 per quintile).
HISTORY = {
    # name: ([days ago...], amount of each purchase)
    "A": (list(range(2, 73, 10)), 1000),  # 8 purchases every 10 days, last 2 days ago
    "B": (list(range(5, 66, 10)), 35),  # 7 purchases every 10 days, small spender
    "C": (list(range(12, 38, 5)), 1000),  # 6 purchases every 5 days, silent for 12 days (> 2 x 5)
    "D": ([3], 100),  # first purchase 3 days ago
    "E": ([8, 200], 150),
    "F": ([150, 160, 170, 180, 190], 100),
    "G": ([100], 50),
    "H": ([300], 20),
    "I": ([400], 70),  # outside the 365-day window: frequency and spend 0
    "J": ([40, 100, 160], 300),
}
EXPECTED = {
    # name: (recency days, frequency, monetary, R, F, M, group)
    "A": (2, 8, 8000, 5, 5, 5, "champions"),
    "B": (5, 7, 245, 4, 5, 3, "loyal"),
    "C": (12, 6, 6000, 3, 4, 5, "at_risk"),  # own interval rule, scores alone say otherwise
    "D": (3, 1, 100, 5, 1, 2, "new"),
    "E": (8, 2, 300, 4, 3, 3, "potential"),
    "F": (150, 5, 500, 2, 4, 4, "at_risk"),  # R <= 2 and F >= 3
    "G": (100, 1, 50, 2, 1, 2, "hibernating"),
    "H": (300, 1, 20, 1, 1, 1, "lost"),
    "I": (400, 0, 0, 1, 1, 1, "lost"),
    "J": (40, 3, 900, 3, 3, 4, "potential"),
}


@tagged("post_install", "-at_install")
class TestRfm(LoyaltyClubCase):
    """RFM scores and groups of a small hand-made history (loyalty_club_card_rfm)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner, Card = cls.env["res.partner"], cls.env["loyalty.club.card"]
        cls.cards = {}
        for name in [*HISTORY, "K", "L"]:
            partner = Partner.create({"name": f"RFM member {name}"})
            cls.cards[name] = Card.create({"partner_id": partner.id, "club_id": cls.club.id})
        cls.other_club = cls.env["loyalty.club"].create({"name": "Other Club", "company_id": cls.other_company.id})
        cls.other_card = Card.create(
            {"partner_id": Partner.create({"name": "Other member"}).id, "club_id": cls.other_club.id}
        )

    def _purchase(self, card, days_ago, amount, key):
        self.Posting._post(
            card,
            1,
            "earn",
            f"test:rfm:{card.id}:{key}",
            amount=amount,
            purchase_count=1,
            date=TODAY - timedelta(days=days_ago, hours=2),
            branch=card.company_id,
        )

    def _make_history(self):
        for name, (days, amount) in HISTORY.items():
            for i, days_ago in enumerate(days):
                self._purchase(self.cards[name], days_ago, amount, i)
        # a blocked card with the biggest and most recent spend: outside the quintiles
        for i in range(10):
            self._purchase(self.cards["L"], 1 + i, 100000, i)
        self.cards["L"].action_block()
        # another company's club: its own quintiles, nothing mixed in
        for i in range(20):
            self._purchase(self.other_card, 1 + i, 50000, i)

    def _figures(self, card):
        return (
            card.rfm_recency_days,
            card.rfm_frequency,
            card.currency_id.round(card.rfm_monetary),
            card.rfm_r,
            card.rfm_f,
            card.rfm_m,
            card.rfm_group,
        )

    @freeze_time(TODAY)
    def test_scores_and_groups(self):
        self._make_history()
        self.env["loyalty.club.card"]._cron_compute_rfm()
        for name, expected in EXPECTED.items():
            with self.subTest(member=name):
                self.assertEqual(self._figures(self.cards[name]), expected)
                self.assertEqual(self.cards[name].rfm_date, TODAY.date())
        self.assertEqual(self._figures(self.cards["K"]), (0, 0, 0, 0, 0, 0, "no_purchase"))
        self.assertFalse(self.cards["L"].rfm_group, "a blocked card has no RFM values")
        self.assertFalse(self.cards["L"].rfm_r)
        # the other club has one member: quintile 1 everywhere, first purchase 20 days ago
        self.assertEqual(self._figures(self.other_card), (1, 20, 1000000, 1, 1, 1, "new"))

    @freeze_time(TODAY)
    def test_own_interval_rule(self):
        """At risk after more than twice the member's own mean interval, not at exactly twice."""
        self._make_history()
        Card = self.env["loyalty.club.card"]
        with freeze_time(TODAY - timedelta(days=2)):
            # C then is 10 days silent for a mean interval of 5 days: exactly twice, not at risk
            Card._cron_compute_rfm()
            self.assertEqual(self.cards["C"].rfm_recency_days, 10)
            self.assertNotEqual(self.cards["C"].rfm_group, "at_risk")
        Card._cron_compute_rfm()
        self.assertEqual(self.cards["C"].rfm_group, "at_risk")
        # A buys every 10 days: 2 days of silence is fine
        self.assertEqual(self.cards["A"].rfm_group, "champions")
        with freeze_time(TODAY + timedelta(days=19)):
            Card._cron_compute_rfm()
            self.assertEqual(self.cards["A"].rfm_group, "at_risk", "21 days > 2 x 10 days")

    @freeze_time(TODAY)
    def test_rerun_changes_nothing(self):
        self._make_history()
        Card = self.env["loyalty.club.card"]
        self.assertTrue(Card._cron_compute_rfm())
        before = {name: self._figures(card) for name, card in self.cards.items()}
        self.assertEqual(Card._cron_compute_rfm(), 0, "a second run on the same day writes no row")
        self.assertEqual({name: self._figures(card) for name, card in self.cards.items()}, before)

    @freeze_time(TODAY)
    def test_segment_by_rfm_group(self):
        self._make_history()
        self.env["loyalty.club.card"]._cron_compute_rfm()
        segment = self.env["loyalty.club.segment"].create(
            {"name": "At risk", "club_id": self.club.id, "rfm_group": "at_risk"}
        )
        self.assertEqual(segment._members(), (self.cards["C"] | self.cards["F"]).partner_id)
        segment.rfm_group = "lost"
        self.assertEqual(segment._members(), (self.cards["H"] | self.cards["I"]).partner_id)
        segment.rfm_group = "new"
        self.assertEqual(segment._members(), self.cards["D"].partner_id, "the other club's new member stays out")

    @freeze_time(TODAY)
    def test_cleared_when_the_card_is_blocked(self):
        self._make_history()
        Card = self.env["loyalty.club.card"]
        Card._cron_compute_rfm()
        self.assertEqual(self.cards["A"].rfm_group, "champions")
        self.cards["A"].action_block()
        Card._cron_compute_rfm()
        self.assertFalse(self.cards["A"].rfm_group)
        self.assertFalse(self.cards["A"].rfm_date)

    def test_fields_are_decided_by_the_server(self):
        card = self.cards["A"].with_user(self.club_manager)
        for values in ({"rfm_group": "champions"}, {"rfm_r": 5}, {"rfm_monetary": 1}):
            with self.subTest(values=values), self.assertRaises(Exception):  # noqa: B017
                card.write(values)
