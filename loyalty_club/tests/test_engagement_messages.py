from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged

from odoo.addons.mail.tests.common import MailCase

from .common_engagement import EngagementCase
from .common_pos import PosClubCase
from .test_sale import SaleClubCase


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
