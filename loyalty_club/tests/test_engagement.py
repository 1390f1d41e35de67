from contextlib import contextmanager
from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.mail.tests.common import MailCase
from odoo.addons.sms.tests.common import SMSCase

from ..models.loyalty_club_bonus_rule import PURCHASE_KINDS
from .common import LoyaltyClubCase
from .common_pos import PosClubCase
from .test_sale import SaleClubCase


class EngagementCase(LoyaltyClubCase, SMSCase, MailCase):
    """The test club without messages (tests switch them on) and helpers for rules."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.write({"notify_channel": "none", "notify_cap_per_week": 0})
        cls.Rule = cls.env["loyalty.club.bonus.rule"]
        cls.Notification = cls.env["loyalty.club.notification"]

    def rule(self, kind, points=10, **values):
        return self.Rule.create(
            {"name": f"{kind} bonus", "club_id": self.club.id, "kind": kind, "points": points, **values}
        )

    def purchase(self, card=None, amount=100.0, points=10):
        return self.post(points, "earn", card=card, amount=amount, purchase_count=1)

    def bonuses(self, card=None, key_prefix="bonus:"):
        return self.env["loyalty.club.entry"].search(
            [
                ("card_id", "=", (card or self.card).id),
                ("kind", "=", "bonus"),
                ("posting_key", "=like", f"{key_prefix}%"),
            ],
            order="id",
        )

    @contextmanager
    def progress_reports(self):
        """The (done, remaining) pairs a cron reports to the scheduler."""
        reports = []

        def record(cron, *, done, remaining, deactivate=False):
            reports.append((done, remaining))

        with patch.object(type(self.env["ir.cron"]), "_notify_progress", record):
            yield reports

    def assertNothingCached(self, records):
        """None of ``records`` has a value in the ORM cache (the cron freed its batch)."""
        cached = [
            record
            for recordset in records
            for record in recordset
            for field in record._fields.values()
            if field.store and self.env.cache.contains(record, field)
        ]
        self.assertFalse(cached, "records of the batch are still in the ORM cache")

    def new_member(self, name, **values):
        partner = self.env["res.partner"].create({"name": name, **values})
        card = self.env["loyalty.club.card"].create({"partner_id": partner.id, "club_id": self.club.id})
        return partner, card

    @contextmanager
    def refused(self, exception, pattern):
        """assertRaisesRegex that also rolls the failed write back (assertRaises' savepoint)."""
        with self.assertRaises(exception) as caught:
            yield
        self.assertRegex(str(caught.exception), pattern)

    def logs(self, partner=None, kind=None):
        domain = [("partner_id", "=", (partner or self.member).id)]
        if kind:
            domain.append(("kind", "=", kind))
        return self.Notification.search(domain, order="id")


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


@tagged("post_install", "-at_install")
class TestEngagementNotifications(EngagementCase):
    """Acceptance 3: the right templates are queued, the cap, the opt-out."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.write({"notify_channel": "both", "notify_cap_per_week": 3, "notify_earned": True})
        cls.member.write({"email": "sara@example.com", "mobile": "+98 912 345 6789"})

    def mails(self, partner=None):
        return self.env["mail.mail"].search([("recipient_ids", "in", (partner or self.member).ids)], order="id")

    def test_messages_of_a_batch_as_one_after_the_other(self):
        """A batch gives each message the fate it would have sent alone, in order: the cap counts
        the batch's earlier messages of the member, a key twice is handled once, opt-out and
        missing addresses apply per member."""
        self.club.notify_cap_per_week = 2
        _other, other_card = self.new_member("Opted out", email="out@example.com", loyalty_club_opt_out=True)
        _silent, silent_card = self.new_member("No address")
        entries = [self.post(index + 1, "adjust") for index in range(3)]
        items = [(self.card, "birthday", f"batch:{index}", entry, entry) for index, entry in enumerate(entries)]
        items.insert(1, (self.card, "birthday", "batch:0", entries[0], entries[0]))
        items += [(other_card, "birthday", "batch:other", entries[0], None)]
        items += [(silent_card, "birthday", "batch:silent", entries[0], None)]
        self.Notification.search([("partner_id", "=", self.member.id)]).unlink()
        logs = self.Notification._notify_many(items)
        self.assertEqual(
            [log.state if log else None for log in logs],
            ["queued", None, "queued", "capped", "opted_out", "no_address"],
        )
        self.assertTrue(logs[0].mail_id and logs[0].sms_id)
        self.assertFalse(logs[3].mail_id or logs[3].sms_id)
        self.assertEqual(len(self.mails()), 2)

    def test_welcome_queued_by_mail_and_sms(self):
        with self.mock_mail_gateway(), self.mockSMSGateway():
            partner, card = self.new_member("Nima", email="nima@example.com", mobile="+98 912 111 2233")
        welcome = self.env.ref("loyalty_club.mail_template_welcome")
        mail = self.assertMailMail(
            partner, "outgoing", fields_values={"subject": f"Welcome to {self.club.name}", "model": "loyalty.club.card"}
        )
        self.assertEqual(mail.res_id, card.id)
        self.assertEqual(mail.subject, welcome._render_field("subject", card.ids)[card.id])
        self.assertSMSOutgoing(partner, "+989121112233", content=f"Your card number is {card.number}")
        self.assertNotSentEmail()  # only queued, never sent inside the transaction
        self.assertEqual(self._sms, [])
        log = self.logs(partner, "welcome")
        self.assertEqual((log.state, log.mail_id, log.sms_id.number), ("queued", mail, "+989121112233"))
        # once per member and club: a second card says nothing
        self.env["loyalty.club.card"].create({"partner_id": partner.id, "club_id": self.club.id})
        self.assertEqual(len(self.logs(partner, "welcome")), 1)

    def test_points_earned_and_cap(self):
        with self.mockSMSGateway():
            entries = [self.purchase(points=10 + i) for i in range(5)]
        logs = self.logs(kind="earned")
        self.assertEqual(logs.mapped("state"), ["queued"] * 3 + ["capped"] * 2)
        self.assertEqual(len(self.mails()), 3, "the cap of 3 per week suppresses the 4th and 5th")
        self.assertSMSOutgoing(self.member, "+989123456789", content="You earned 10 points")
        self.assertEqual(self.env["sms.sms"].search_count([("partner_id", "=", self.member.id)]), 3)
        self.assertEqual(logs[0].mail_id.subject, "You earned 10 points")
        self.assertEqual(logs.entry_id, self.env["loyalty.club.entry"].concat(*entries))
        with freeze_time("2099-01-01"):
            self.purchase(points=7)
        self.assertEqual(self.logs(kind="earned")[-1].state, "queued", "a week later the cap is free again")

    def test_opt_out_and_blacklist(self):
        self.member.loyalty_club_opt_out = True
        self.purchase()
        self.assertEqual(self.logs(kind="earned").state, "opted_out")
        self.assertFalse(self.mails())
        self.assertFalse(self.env["sms.sms"].search([("partner_id", "=", self.member.id)]))
        self.member.loyalty_club_opt_out = False
        self.env["mail.blacklist"].sudo()._add("sara@example.com")
        self.env["phone.blacklist"].sudo()._add(["+989123456789"])
        self.purchase()
        self.assertEqual(self.logs(kind="earned")[-1].state, "no_address")
        self.assertFalse(self.mails())

    def test_earned_message_cancelled_with_the_purchase(self):
        earned = self.purchase(points=10)
        log = self.logs(kind="earned")
        self.assertEqual(log.mail_id.state, "outgoing")
        self.assertEqual(log.sms_id.state, "outgoing")
        self.Posting._post_reversal(self.card, 10, "test:cancel", earned, purchase_count=-1)
        self.assertEqual(log.state, "cancelled")
        self.assertEqual(log.mail_id.state, "cancel")
        self.assertEqual(log.sms_id.state, "canceled")

    def test_tier_change_messages(self):
        self.club.notify_earned = False
        self.purchase(points=600)  # Bronze -> Silver
        log = self.logs(kind="tier_up")
        self.assertEqual(log.state, "queued")
        self.assertEqual(log.mail_id.subject, "Congratulations, you are now Silver")
        self.assertIn("You are now Silver", log.sms_id.body)

    def test_downgrade_by_the_evaluation_cron_is_told(self):
        self.club.write({"notify_earned": False, "tier_grace_days": 0})
        self.card._change_tier(self.silver, "upgrade")
        summary = self.env["loyalty.club.card"]._cron_evaluate_tiers()
        self.assertEqual(summary["downgrade"], 1)
        log = self.logs(kind="tier_down")
        self.assertEqual(log.state, "queued")
        self.assertTrue(log.mail_id and log.sms_id)

    def test_expiring_notices_batch_is_set_based(self):
        """A batch of expiring lots is announced in a fixed number of queries, whatever its size."""
        self.club.write({"notify_channel": "both", "notify_earned": False, "expiry_months": 1})

        def lots(count, day):
            cards = [
                self.new_member(f"Expiring {day} {i}", email=f"x{day}{i}@example.com", phone=f"+98912{day}0000{i:02d}")[
                    1
                ]
                for i in range(count)
            ]
            with freeze_time(f"2026-01-{day:02d} 10:00:00"):
                return [self.purchase(card=card, points=20) for card in cards]

        def queries(count, day):
            entries = lots(count, day)
            with freeze_time(f"2026-01-{day + 25:02d} 10:00:00"):
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                self.assertEqual(self.Notification._cron_expiring_notices(batch_size=100), count)
                self.env.flush_all()
                count_queries = self.env.cr.sql_log_count - before
            for entry in entries:
                log = self.Notification.search([("key", "=", f"expiring:{entry.id}")])
                self.assertTrue(log.mail_id and log.sms_id, "one e-mail and one SMS per lot")
            return count_queries

        queries(1, 1)  # warm the caches
        one = queries(1, 2)
        self.assertEqual(queries(6, 3), one, "six lots cost the queries of one")

    def test_expiring_notices_report_capped_progress(self):
        self.club.write({"notify_channel": "sms", "notify_earned": False, "expiry_months": 1})
        with freeze_time("2026-01-01 10:00:00"):
            for _index in range(3):
                self.purchase(points=30)
        with freeze_time("2026-01-25 10:00:00"), self.progress_reports() as reports:
            self.assertEqual(self.Notification._cron_expiring_notices(batch_size=1), 1)
            self.assertEqual(self.Notification._cron_expiring_notices(batch_size=5), 2)
        self.assertEqual(reports, [(1, 1), (2, 0)], "remaining: one more batch at most, not the 2 due")

    def test_expiring_points_once_per_lot(self):
        self.club.write({"notify_earned": False, "notify_expiring_days": 14, "expiry_months": 1})
        with freeze_time("2026-01-01 10:00:00"):
            lot1 = self.purchase(points=30)
        with freeze_time("2026-01-10 10:00:00"):
            lot2 = self.purchase(points=40)
        with freeze_time("2026-01-20 10:00:00"):  # lot1 expires 2026-02-01, lot2 2026-02-10
            self.assertEqual(self.Notification._cron_expiring_notices(), 1)
            self.assertEqual(self.Notification._cron_expiring_notices(), 0, "run twice: once per lot")
        with freeze_time("2026-01-30 10:00:00"):
            self.assertEqual(self.Notification._cron_expiring_notices(batch_size=1), 1)
            self.assertEqual(self.Notification._cron_expiring_notices(batch_size=1), 0)
        logs = self.logs(kind="expiring")
        self.assertEqual(logs.mapped("key"), [f"expiring:{lot1.id}", f"expiring:{lot2.id}"])
        self.assertNothingCached([lot1, lot2, self.card])
        self.assertEqual(logs[0].mail_id.subject, "30 points expire on 02/01/2026")

    def test_birthday_message_with_the_bonus(self):
        self.club.notify_earned = False
        self.rule("birthday", points=100)
        self.member.loyalty_birthday = date(1991, 9, 9)
        with freeze_time("2026-09-09 12:00:00"):
            self.Rule._cron_date_bonuses()
            self.Rule._cron_date_bonuses()
        log = self.logs(kind="birthday")
        self.assertEqual(len(log), 1)
        self.assertEqual(log.mail_id.subject, "Happy birthday, Sara Test!")
        self.assertIn("We added 100 points", log.sms_id.body)


@tagged("post_install", "-at_install")
class TestEngagementSegments(EngagementCase):
    """Segments: saved member filters computed in SQL, campaigns through Odoo's composers."""

    def test_segment_criteria_and_composers(self):
        young, young_card = self.new_member(
            "Young", loyalty_birthday=date(2004, 1, 1), loyalty_gender="female", email="young@example.com"
        )
        old, old_card = self.new_member("Old", loyalty_birthday=date(1950, 1, 1), loyalty_gender="male")
        opted, _opted_card = self.new_member("Opted", loyalty_birthday=date(2003, 1, 1), loyalty_club_opt_out=True)
        with freeze_time("2026-02-01 10:00:00"):
            self.purchase(card=young_card, amount=500, points=50)
        with freeze_time("2026-06-01 10:00:00"):
            self.purchase(card=old_card, amount=2000, points=600)  # -> Silver
        Segment = self.env["loyalty.club.segment"]
        with freeze_time("2026-07-01"):
            segment = Segment.create({"name": "Under 30", "club_id": self.club.id, "age_max": 29})
            self.assertEqual(segment._members(), young)
            self.assertEqual(segment._members(include_opted_out=True), young | opted)
            segment.write({"age_max": 0, "age_min": 60})
            self.assertEqual(segment._members(), old)
            segment.write({"age_min": 0, "tier_ids": [(6, 0, self.silver.ids)]})
            self.assertEqual(segment._members(), old)
            segment.write({"tier_ids": [(5,)], "gender": "female"})
            self.assertEqual(segment._members(), young)
            segment.write({"gender": False, "spend_min": 1000})
            self.assertEqual(segment._members(), old)
            segment.write({"spend_min": 0, "last_purchase_to": date(2026, 3, 1)})
            self.assertEqual(segment._members(), young)
            segment.write({"last_purchase_to": False, "branch_ids": [(6, 0, self.other_company.ids)]})
            self.assertFalse(segment._members())
            segment.write({"branch_ids": [(5,)], "gender": "female"})
        self.assertEqual(segment.member_count, 1)
        self.assertEqual(self.env["res.partner"].search([("loyalty_segment_ids", "in", segment.ids)]), young)
        action = segment.action_send_mail()
        composer = (
            self.env["mail.compose.message"]
            .with_context(**action["context"])
            .create({"subject": "Summer sale", "body": "<p>Hello</p>"})
        )
        self.assertEqual(composer.composition_mode, "mass_mail")
        self.assertEqual(self.env["res.partner"].search(composer._evaluate_res_domain()), young)
        with self.mock_mail_gateway():
            composer._action_send_mail()
        self.assertEqual(self.env["mail.mail"].search([("subject", "=", "Summer sale")]).recipient_ids, young)
        action = segment.action_send_sms()
        sms_composer = self.env["sms.composer"].with_context(**action["context"]).create({"body": "Sale!"})
        self.assertEqual(sms_composer.composition_mode, "mass")
        self.assertEqual(sms_composer._get_records(), young)


@tagged("post_install", "-at_install")
class TestEngagementSale(SaleClubCase, MailCase):
    """Acceptance 3: nothing is sent for a cancelled order; bonuses come through Sales."""

    def test_cancelled_order_sends_nothing(self):
        self.club.write({"notify_channel": "mail", "notify_earned": True, "notify_cap_per_week": 0})
        self.member.email = "member@example.com"
        self.env["loyalty.club.bonus.rule"].create(
            {"name": "Visit", "club_id": self.club.id, "kind": "visit", "points": 5}
        )
        order = self._order()
        with self.mock_mail_gateway():
            order.action_confirm()
            log = self.env["loyalty.club.notification"].search(
                [("partner_id", "=", self.member.id), ("kind", "=", "earned")]
            )
            self.assertEqual(log.mail_id.state, "outgoing")
            self.assertEqual(self.card.balance, 55)
            order._action_cancel()
            club_mails = self.env["mail.mail"].sudo().search([("model", "=like", "loyalty.club.%")])
            self.env["mail.mail"].sudo().process_email_queue(ids=club_mails.ids)
        self.assertEqual(log.state, "cancelled")
        self.assertEqual(log.mail_id.state, "cancel")
        self.assertNotSentEmail([self.member])
        self.assertEqual(self.card.balance, 0, "the visit bonus of the cancelled order is taken back")


@tagged("post_install", "-at_install")
class TestEngagementPos(PosClubCase):
    """The POS gets the purchase bonuses from the same posting hook; a full refund takes them back."""

    def test_pos_visit_and_nth_bonus_and_refund(self):
        Rule = self.env["loyalty.club.bonus.rule"]
        Rule.create({"name": "Visit", "club_id": self.club.id, "kind": "visit", "points": 5})
        Rule.create({"name": "Second", "club_id": self.club.id, "kind": "nth_purchase", "points": 7, "nth": 2})
        first = self.sync(self.order_data([(self.shirt, 1)]))
        self.sync(self.order_data([(self.cap, 1)]))
        bonuses = self.entries().filtered(lambda e: e.kind == "bonus")
        self.assertEqual(sorted(bonuses.mapped("points")), [5, 7], "one visit a day, the 2nd purchase bonus")
        self.assertEqual(self.card.balance, 10 + 10 + 5 + 7)
        self.sync(self.refund_data(first, {self.shirt: 1}, [(self.cash_method, -100.0)]))
        self.assertEqual(self.card.balance, 10 + 7, "the refunded order's points and visit bonus are taken back")
        self.assertFalse(self.Posting._audit_balances(self.card))
