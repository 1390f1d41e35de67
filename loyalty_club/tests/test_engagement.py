from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from ..models.loyalty_club_bonus_rule import PURCHASE_KINDS
from .common_engagement import EngagementCase


@tagged("post_install", "-at_install")
class TestEngagementBonusRules(EngagementCase):
    """Acceptance 1 and 2: each rule kind fires exactly once per key (frozen time), referral
    and birthday guards."""

    def assertCronGrantsNothingMore(self):
        """The scheduled bonus job, run twice, adds no bonus to those already posted."""
        granted = self.env["loyalty.club.entry"].search_count([("kind", "=", "bonus")])
        self.Rule._cron_date_bonuses()
        self.Rule._cron_date_bonuses()
        self.assertEqual(self.env["loyalty.club.entry"].search_count([("kind", "=", "bonus")]), granted)

    def test_rules_changed_apply_to_the_next_purchase(self):
        """The club's purchase rules are cached between purchases: creating, archiving or changing
        one takes effect at once (and a purchase in a club without rules does not look them up)."""
        self.purchase()
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        self.env["loyalty.club.bonus.rule"]._active_rules(self.club, PURCHASE_KINDS)
        self.assertEqual(self.env.cr.sql_log_count, before, "cached")
        with freeze_time("2026-03-10 08:00:00"):
            rule = self.rule("visit", points=5)
            self.purchase()
        self.assertEqual(len(self.bonuses()), 1, "a new rule applies to the next purchase")
        with freeze_time("2026-03-11 08:00:00"):
            rule.points = 7
            self.purchase()
        self.assertEqual(self.bonuses().mapped("points"), [5, 7], "a changed rule too")
        with freeze_time("2026-03-12 08:00:00"):
            rule.active = False
            self.purchase()
        self.assertEqual(len(self.bonuses()), 2, "an archived rule gives nothing")

    def test_visit_once_per_local_day(self):
        self.rule("visit", points=5)
        self.member.tz = "Asia/Tehran"  # UTC+03:30
        with freeze_time("2026-03-10 08:00:00"):
            self.purchase()
            self.purchase()
        self.assertEqual(len(self.bonuses()), 1, "two purchases the same day: one visit bonus")
        with freeze_time("2026-03-10 21:00:00"):  # 00:30 on 11 March in Tehran
            self.purchase()
        visits = self.bonuses()
        self.assertEqual(len(visits), 2)
        self.assertTrue(visits[-1].posting_key.endswith(":2026-03-11"))
        self.assertEqual(visits.mapped("points"), [5, 5])
        self.assertBalanceIsLedgerSum()

    @freeze_time("2026-03-10 08:00:00")
    def test_join_once_per_member(self):
        self.rule("join", points=25)
        partner, card = self.new_member("Newcomer")
        self.assertEqual(self.bonuses(card).mapped("points"), [25])
        self.assertEqual(card.balance, 25)
        second = self.env["loyalty.club.card"].create({"partner_id": partner.id, "club_id": self.club.id})
        self.assertFalse(self.bonuses(second), "a second card of the same member earns no second join bonus")
        self.assertCronGrantsNothingMore()

    @freeze_time("2026-03-10 08:00:00")
    def test_profile_completion_once(self):
        self.rule("profile", points=15)
        partner, card = self.new_member("Half profile", phone="+98 912 000 0001")
        self.assertFalse(self.bonuses(card))
        partner.email = "half@example.com"
        self.assertFalse(self.bonuses(card), "the birthday is still missing")
        partner.loyalty_birthday = date(1990, 5, 17)
        self.assertEqual(self.bonuses(card).mapped("points"), [15])
        partner.write({"email": "other@example.com", "loyalty_birthday": date(1990, 5, 18)})
        self.assertEqual(len(self.bonuses(card)), 1)
        # A member whose profile is complete when the card is issued gets it at once
        _full, full_card = self.new_member(
            "Full profile", phone="+98 912 000 0002", email="full@example.com", loyalty_birthday=date(1985, 1, 2)
        )
        self.assertEqual(self.bonuses(full_card).mapped("points"), [15])
        self.assertCronGrantsNothingMore()

    @freeze_time("2026-03-10 08:00:00")
    def test_referral_first_paid_order_once(self):
        rule = self.rule("referral", points=50, referred_points=20)
        self.purchase()  # the referrer's own purchase gives nothing
        _friend, friend_card = self.new_member("Friend")
        friend_card.referred_by_card_id = self.card
        self.purchase(card=friend_card)
        self.purchase(card=friend_card)
        self.assertEqual(self.bonuses(self.card).mapped("points"), [50])
        self.assertEqual(self.bonuses(friend_card).mapped("points"), [20])
        self.assertEqual(
            self.bonuses(self.card).posting_key, f"bonus:referral:{rule.id}:{friend_card.partner_id.id}:referrer"
        )
        # A member who bought before being referred brings nothing
        _late, late_card = self.new_member("Late friend")
        self.purchase(card=late_card)
        late_card.referred_by_card_id = self.card
        self.purchase(card=late_card)
        self.assertEqual(len(self.bonuses(self.card)), 1)
        self.assertFalse(self.bonuses(late_card))
        self.assertBalanceIsLedgerSum()
        self.assertCronGrantsNothingMore()

    def test_referral_refuses_self_and_circles(self):
        Card = self.env["loyalty.club.card"]
        with self.refused(ValidationError, "cannot refer themselves"):
            self.card.referred_by_card_id = self.card
        own_second = Card.create({"partner_id": self.member.id, "club_id": self.club.id})
        with self.refused(ValidationError, "cannot refer themselves"):
            own_second.referred_by_card_id = self.card
        _b, card_b = self.new_member("B")
        _c, card_c = self.new_member("C")
        card_b.referred_by_card_id = self.card  # member refers B
        card_c.referred_by_card_id = card_b  # B refers C
        with self.refused(ValidationError, "Circular referral"):
            self.card.referred_by_card_id = card_c  # C cannot refer member back
        with self.refused(ValidationError, "Circular referral"):
            own_second.referred_by_card_id = card_b  # nor through another card of the member
        with self.refused(UserError, "cannot be changed"):
            card_c.referred_by_card_id = self.card

    def test_birthday_in_the_company_timezone_when_the_member_has_none_or_an_unknown_one(self):
        self.rule("birthday", points=100, birthday_guard_days=30)
        self.company.partner_id.tz = "Asia/Tehran"
        self.member.write({"tz": False, "loyalty_birthday": date(1990, 3, 10)})
        other, other_card = self.new_member("Unknown zone", loyalty_birthday=date(1990, 3, 10))
        self.env.flush_all()
        self.env.cr.execute("UPDATE res_partner SET tz = 'Mars/Olympus' WHERE id = %s", [other.id])
        other.invalidate_recordset(["tz"])
        with freeze_time("2026-03-09 19:00:00"):  # 22:30 on 9 March in Tehran: not yet
            self.assertEqual(self.Rule._cron_date_bonuses(), 0)
        with freeze_time("2026-03-09 21:00:00"):  # 00:30 on 10 March in Tehran
            self.assertEqual(self.Rule._cron_date_bonuses(), 2)
        self.assertEqual(self.bonuses().mapped("points"), [100])
        self.assertEqual(self.bonuses(other_card).mapped("points"), [100])

    def test_birthday_in_member_timezone_once_per_year(self):
        self.rule("birthday", points=100, birthday_guard_days=30)
        self.member.write({"tz": "Asia/Tehran", "loyalty_birthday": date(1990, 3, 10)})
        with freeze_time("2026-03-09 19:00:00"):  # 22:30 on 9 March in Tehran: not yet
            self.assertEqual(self.Rule._cron_date_bonuses(), 0)
        with freeze_time("2026-03-09 21:00:00"):  # 00:30 on 10 March in Tehran
            self.assertEqual(self.Rule._cron_date_bonuses(), 1)
            self.assertEqual(self.Rule._cron_date_bonuses(), 0, "the cron run twice grants once")
        with freeze_time("2026-03-10 15:00:00"):
            self.assertEqual(self.Rule._cron_date_bonuses(), 0)
        self.assertEqual(self.bonuses().mapped("points"), [100])
        with freeze_time("2027-03-10 06:00:00"):
            self.assertEqual(self.Rule._cron_date_bonuses(), 1, "next year again")
        self.assertEqual(len(self.bonuses()), 2)

    def test_birthday_change_guard(self):
        self.rule("birthday", points=100, birthday_guard_days=60)
        with freeze_time("2026-01-05 10:00:00"):
            self.member.loyalty_birthday = date(1990, 8, 1)
            self.assertFalse(self.member.loyalty_birthday_changed_on, "a first birthday is not a change")
        with freeze_time("2026-03-01 10:00:00"):
            self.member.loyalty_birthday = date(1990, 3, 20)  # moved to collect points soon
            self.assertEqual(self.member.loyalty_birthday_changed_on, date(2026, 3, 1))
        with freeze_time("2026-03-20 10:00:00"):
            self.assertEqual(self.Rule._cron_date_bonuses(), 0, "a birthday changed 19 days ago earns nothing")
        self.assertFalse(self.bonuses())
        with freeze_time("2027-03-20 10:00:00"):
            self.assertEqual(self.Rule._cron_date_bonuses(), 1)
        # the field cannot be forged by users
        with self.assertRaises(AccessError):
            self.member.with_user(self.env.ref("base.user_admin")).write({"loyalty_birthday_changed_on": "2000-01-01"})
        self.assertEqual(self.member.loyalty_birthday_changed_on, date(2026, 3, 1))

    def test_birthday_on_29_february(self):
        self.rule("birthday", points=100)
        self.member.loyalty_birthday = date(2000, 2, 29)
        with freeze_time("2027-02-28 12:00:00"):
            self.assertEqual(self.Rule._cron_date_bonuses(), 1)
        with freeze_time("2028-02-28 12:00:00"):
            self.assertEqual(self.Rule._cron_date_bonuses(), 0, "leap year: on the 29th")
        with freeze_time("2028-02-29 12:00:00"):
            self.assertEqual(self.Rule._cron_date_bonuses(), 1)

    def test_anniversary_once(self):
        self.rule("anniversary", points=30)
        with freeze_time("2025-04-02 10:00:00"):
            _partner, card = self.new_member("Old member")
        with freeze_time("2025-04-02 12:00:00"):
            self.Rule._cron_date_bonuses()
        self.assertFalse(self.bonuses(card), "the day of joining is no anniversary")
        with freeze_time("2026-04-02 12:00:00"):
            self.assertEqual(self.Rule._cron_date_bonuses(), 1)
            self.assertEqual(self.Rule._cron_date_bonuses(), 0)
        self.assertEqual(self.bonuses(card).mapped("points"), [30])

    def test_mission_once_per_period(self):
        self.rule("mission", points=20, mission_purchases=3, mission_amount=250, mission_period="month")
        with freeze_time("2026-05-03 10:00:00"):
            self.purchase(amount=100)
            self.purchase(amount=100)
        self.assertFalse(self.bonuses())
        with freeze_time("2026-05-20 10:00:00"):
            self.purchase(amount=100)
            self.purchase(amount=100)
        self.assertEqual(self.bonuses().mapped("points"), [20])
        with freeze_time("2026-06-01 10:00:00"):
            self.purchase(amount=100)
        self.assertEqual(len(self.bonuses()), 1, "a new month starts from zero")
        with freeze_time("2026-06-02 10:00:00"):
            self.purchase(amount=10)
            self.purchase(amount=10)
        self.assertEqual(len(self.bonuses()), 1, "3 purchases but only 120 spent")
        with freeze_time("2026-06-03 10:00:00"):
            self.purchase(amount=200)
        self.assertEqual(len(self.bonuses()), 2)
        self.assertTrue(self.bonuses()[-1].posting_key.endswith(":2026-06"))

    @freeze_time("2026-03-10 08:00:00")
    def test_nth_purchase(self):
        self.rule("nth_purchase", points=40, nth=3)
        for _i in range(7):
            self.purchase()
        bonuses = self.bonuses()
        self.assertEqual(bonuses.mapped("points"), [40, 40])
        self.assertEqual([key.rsplit(":", 1)[1] for key in bonuses.mapped("posting_key")], ["3", "6"])
        # A retried posting (same key: POS sync sent twice, double click) is no new purchase
        self.post(10, "earn", key="test:retried", amount=100.0, purchase_count=1)
        self.post(10, "earn", key="test:retried", amount=100.0, purchase_count=1)
        self.assertEqual(len(self.bonuses()), 2, "8 purchases, not 9")
        self.purchase()
        self.assertEqual(self.bonuses()[-1].posting_key.rsplit(":", 1)[1], "9")
        self.assertCronGrantsNothingMore()

    def test_bonus_taken_back_when_purchase_cancelled(self):
        self.rule("visit", points=5)
        earned = self.purchase(points=10)
        self.assertEqual(self.card.balance, 15)
        self.Posting._post_reversal(self.card, 10, "test:cancel", earned, purchase_count=-1)
        self.Posting._post_reversal(self.card, 10, "test:cancel", earned, purchase_count=-1)
        self.assertEqual(self.card.balance, 0)
        self.assertBalanceIsLedgerSum()

    def test_cron_batches(self):
        self.rule("birthday", points=10)
        members = [self.new_member(f"Birthday {i}", loyalty_birthday=date(1990, 7, 7))[1] for i in range(3)]
        with freeze_time("2026-07-07 12:00:00"):
            self.assertEqual([self.Rule._cron_date_bonuses(batch_size=2) for _i in range(3)], [2, 1, 0])
        for card in members:
            self.assertEqual(len(self.bonuses(card)), 1)

    def test_birthday_batch_is_set_based(self):
        """The daily cron posts, upgrades and announces a whole batch of members in a fixed number
        of queries, whatever their number (no per-member loop)."""
        self.club.notify_channel = "sms"
        self.rule("birthday", points=600)  # enough for Silver at once: the batch upgrades too

        def members(count, tag):
            return [
                self.new_member(f"Batch {tag} {i}", loyalty_birthday=date(1990, 7, 7), phone=f"+98912{tag}0000{i:02d}")[
                    1
                ]
                for i in range(count)
            ]

        def queries(cards):
            with freeze_time("2026-07-07 12:00:00"):
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                self.assertEqual(self.Rule._cron_date_bonuses(batch_size=100), len(cards))
                self.env.flush_all()
                count = self.env.cr.sql_log_count - before
            for card in cards:
                self.assertEqual(card.balance, 600)
                self.assertEqual(card.tier_id, self.silver)
                self.assertEqual(
                    sorted(self.logs(card.partner_id).filtered(lambda log: log.kind != "welcome").mapped("kind")),
                    ["birthday", "tier_up"],
                )
                self.assertBalanceIsLedgerSum(card)
            return count

        queries(members(1, 1))  # warm the caches (templates, rules)
        one = queries(members(1, 2))
        self.assertEqual(queries(members(6, 3)), one, "six members cost the queries of one")

    def test_cron_batch_reports_capped_progress_and_frees_its_records(self):
        """Over thousands of members the scheduler calls again and again in one environment: each
        call counts at most one more batch and leaves nothing of its batch in the ORM cache."""
        self.rule("birthday", points=10)
        members = [self.new_member(f"Batch {i}", loyalty_birthday=date(1990, 7, 7))[1] for i in range(4)]
        with freeze_time("2026-07-07 12:00:00"), self.progress_reports() as reports:
            self.assertEqual(self.Rule._cron_date_bonuses(batch_size=1), 1)
            self.assertNothingCached(members)
            self.assertEqual(self.Rule._cron_date_bonuses(batch_size=3), 3)
        self.assertEqual(reports, [(1, 1), (3, 0)], "remaining: one more batch at most, not the 3 due")
