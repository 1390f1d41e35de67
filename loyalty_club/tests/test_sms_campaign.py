from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import LoyaltyClubCase

BODY = "تخفیف ویژه اعضا: ۲۰٪"


@tagged("post_install", "-at_install")
class TestSmsCampaign(LoyaltyClubCase):
    """Issue 21: a segment's SMS campaign is queued by Odoo's composer a batch at a time, in the
    background for large segments, once per phone number, as the manager who sent it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        iran = cls.env.ref("base.ir").id

        def member(name, phone=False, **values):
            partner = Partner.create({"name": name, "phone": phone, "country_id": iran, **values})
            cls.env["loyalty.club.card"].create({"partner_id": partner.id, "club_id": cls.club.id})
            return partner

        # cls.member (+98 912 345 6789) has a card already
        cls.first = member("Campaign First", "+98 912 000 0001")
        cls.same_number = member("Campaign Same Number", "+98 912 345 6789")  # cls.member's number
        cls.blacklisted = member("Campaign Blacklisted", "+98 912 000 0003")
        cls.no_phone = member("Campaign No Phone")
        cls.opted_out = member("Campaign Opted Out", "+98 912 000 0005", loyalty_club_opt_out=True)
        cls.opts_out_later = member("Campaign Opts Out Later", "+98 912 000 0006")
        cls.env["phone.blacklist"].sudo().create({"number": "+989120000003"})
        cls.segment = cls.env["loyalty.club.segment"].create({"name": "Everyone", "club_id": cls.club.id})

    def _send(self, user=None, body=BODY, segment=None):
        """*Send SMS* on the segment, then *Send* in Odoo's composer, as ``user`` (the club manager)."""
        segment = (segment or self.segment).with_user(user or self.club_manager)
        action = segment.action_send_sms()
        composer = (
            self.env["sms.composer"].with_user(user or self.club_manager).with_context(**action["context"])
        ).create({"body": body})
        return composer.action_send_sms()

    def _campaign(self):
        return self.env["loyalty.club.sms.campaign"].search([("segment_id", "=", self.segment.id)], limit=1)

    def _sms(self, body=BODY):
        return self.env["sms.sms"].search([("body", "=", body)])

    def test_large_segment_is_queued_batch_by_batch_in_the_background(self):
        self.env["ir.config_parameter"].sudo().set_param("loyalty_club.sms_campaign_batch_size", 2)
        notification = self._send()
        campaign = self._campaign()
        self.assertEqual(notification["tag"], "display_notification")
        self.assertIn("background", notification["params"]["message"])
        # one per number (the lowest id keeps it), opted-out members left out
        self.assertEqual(
            campaign.partner_ids,
            self.member | self.first | self.blacklisted | self.no_phone | self.opts_out_later,
        )
        self.assertEqual((campaign.state, campaign.member_count, campaign.done_count), ("queued", 5, 0))
        self.assertFalse(self._sms(), "nothing is queued in the manager's request")

        campaign._process_batch(2)
        self.assertEqual((campaign.done_count, campaign.sms_count, campaign.progress), (2, 2, 40))
        self.assertEqual(set(self._sms().mapped("partner_id").ids), {self.member.id, self.first.id})

        self.opts_out_later.loyalty_club_opt_out = True
        self.env["loyalty.club.sms.campaign"]._cron_process_campaigns()
        self.assertEqual(campaign.state, "done")
        self.assertEqual((campaign.done_count, campaign.sms_count, campaign.skipped_count), (5, 2, 1))
        self.assertTrue(campaign.date_done)
        sms = self._sms()
        outgoing = sms.filtered(lambda s: s.state == "outgoing")
        self.assertEqual(sorted(outgoing.mapped("number")), ["+989120000001", "+989123456789"])
        # Odoo's composer records why the others got nothing, as it does for any mass SMS
        self.assertEqual(
            {(s.partner_id, s.failure_type) for s in sms - outgoing},
            {(self.blacklisted, "sms_blacklist"), (self.no_phone, "sms_number_missing")},
        )
        self.assertFalse(sms.filtered(lambda s: s.partner_id in (self.same_number | self.opts_out_later)))
        # logged in each member's chatter by the manager who sent it
        log = self.env["mail.message"].search([("model", "=", "res.partner"), ("res_id", "=", self.first.id)])
        self.assertEqual(log.filtered(lambda m: BODY in m.body).author_id, self.club_manager.partner_id)

    def test_the_composer_reads_the_members_from_the_segment(self):
        """No id list in the composer (Odoo evaluates it with a 100 KB limit, about 11,000 ids):
        the members and their counts come from the segment."""
        action = self.segment.with_user(self.club_manager).action_send_sms()
        self.assertNotIn("default_res_ids", action["context"])
        composer = (
            self.env["sms.composer"]
            .with_user(self.club_manager)
            .with_context(**action["context"])
            .create({"body": "Hi"})
        )
        members = self.segment._members()
        self.assertEqual(composer._get_records(), members)
        self.assertEqual(composer.res_ids_count, len(members))
        self.assertEqual(composer.recipient_invalid_count, 1, "the member without a phone")

    def test_a_campaign_of_one_batch_is_queued_at_once(self):
        notification = self._send()
        campaign = self._campaign()
        self.assertEqual((campaign.state, campaign.done_count, campaign.sms_count), ("done", 5, 3))
        self.assertEqual(len(self._sms().filtered(lambda s: s.state == "outgoing")), 3)
        self.assertIn("3 SMS queued", notification["params"]["message"])
        self.assertEqual(self.segment.sms_campaign_count, 1)
        self.assertEqual(self.segment.action_view_sms_campaigns()["domain"], [("segment_id", "=", self.segment.id)])

    def test_duplicates_across_batches_get_one_sms(self):
        """Odoo's composer skips a number seen earlier in its batch; one per number keeps it so
        across batches of one."""
        self.env["ir.config_parameter"].sudo().set_param("loyalty_club.sms_campaign_batch_size", 1)
        self._send()
        self.env["loyalty.club.sms.campaign"]._cron_process_campaigns()
        numbers = self._sms().filtered(lambda s: s.state == "outgoing").mapped("number")
        self.assertEqual(len(numbers), len(set(numbers)))
        self.assertEqual(self._campaign().state, "done")

    def test_cancel_stops_the_batches_not_queued(self):
        self.env["ir.config_parameter"].sudo().set_param("loyalty_club.sms_campaign_batch_size", 2)
        self._send()
        campaign = self._campaign().with_user(self.club_manager)
        campaign.sudo()._process_batch(2)
        campaign.action_cancel()
        self.env["loyalty.club.sms.campaign"]._cron_process_campaigns()
        self.assertEqual((campaign.state, campaign.done_count), ("cancelled", 2))
        self.assertEqual(len(self._sms()), 2)
        with self.assertRaises(UserError):
            campaign.action_cancel()

    def test_a_failing_batch_stops_the_campaign_with_its_reason(self):
        self.env["ir.config_parameter"].sudo().set_param("loyalty_club.sms_campaign_batch_size", 2)
        self._send()
        campaign = self._campaign()
        Campaign = type(self.env["loyalty.club.sms.campaign"])
        with (
            patch.object(Campaign, "_process_batch", side_effect=ValueError("gateway template broken")),
            mute_logger("odoo.addons.loyalty_club.models.loyalty_club_sms_campaign"),
        ):
            self.env["loyalty.club.sms.campaign"]._cron_process_campaigns()
        self.assertEqual(campaign.state, "failed")
        self.assertIn("gateway template broken", campaign.stop_reason)
        self.env["loyalty.club.sms.campaign"]._cron_process_campaigns()  # not taken again
        self.assertEqual((campaign.state, campaign.done_count), ("failed", 0))

    def test_only_club_managers_send_and_each_company_sees_its_own(self):
        with self.assertRaises(AccessError):
            self._send(user=self.club_user)
        self.assertFalse(self._campaign())
        self._send()
        campaign = self._campaign()
        self.assertEqual(campaign.with_user(self.club_user).read(["state"])[0]["state"], "done")
        Campaign = self.env["loyalty.club.sms.campaign"]
        self.assertFalse(Campaign.with_user(self.other_manager).search([("id", "=", campaign.id)]))
        with self.assertRaises(AccessError):
            campaign.with_user(self.club_manager).write({"state": "queued"})
        with self.assertRaises(AccessError):
            Campaign.with_user(self.club_manager).create({"name": "Forged", "club_id": self.club.id, "body": "x"})

    def test_empty_message_and_empty_segment_are_refused(self):
        with self.assertRaises(UserError):
            self._send(body="  ")
        nobody = self.env["loyalty.club.segment"].create({"name": "Nobody", "club_id": self.club.id, "age_min": 120})
        with self.assertRaises(UserError):
            self._send(segment=nobody)
        self.assertFalse(self.env["loyalty.club.sms.campaign"].search([]).filtered(lambda c: c.club_id == self.club))
        self.assertFalse(self._sms(body="  "))

    def test_the_composer_elsewhere_is_unchanged(self):
        """A mass SMS from the contacts list (no segment) is Odoo's, queued at once."""
        composer = (
            self.env["sms.composer"]
            .with_user(self.club_manager)
            .with_context(default_composition_mode="mass", default_res_model="res.partner")
            .create({"body": "Plain Odoo", "res_ids": repr([self.first.id])})
        )
        composer.action_send_sms()
        self.assertEqual(self._sms("Plain Odoo").partner_id, self.first)
        self.assertFalse(self.env["loyalty.club.sms.campaign"].search([("body", "=", "Plain Odoo")]))
