from odoo import models


class SmsComposer(models.TransientModel):
    """Odoo's SMS composer opened by *Send SMS* on a segment sends a club campaign: the SMS are
    queued batch by batch in the background (``loyalty.club.sms.campaign``), not in the request."""

    _inherit = "sms.composer"

    def _loyalty_segment(self):
        """The segment whose campaign this composer sends, or None (any other use of the composer,
        and the campaign's own batches)."""
        context = self.env.context
        if (
            not context.get("loyalty_club_segment_id")
            or context.get("loyalty_club_campaign_batch")
            or self.composition_mode != "mass"
            or self.res_model != "res.partner"
        ):
            return None
        return self.env["loyalty.club.segment"].browse(context["loyalty_club_segment_id"])

    def action_send_sms(self):
        """Send; a segment's campaign is queued by batches and a notification says how."""
        segment = self._loyalty_segment()
        if segment is None:
            return super().action_send_sms()
        campaign = self.env["loyalty.club.sms.campaign"]._queue_from_composer(self, segment, self._get_records().ids)
        return campaign._action_notify_queued()

    def _action_send_sms_mass(self, records=None):
        segment = self._loyalty_segment()
        if segment is None:
            return super()._action_send_sms_mass(records=records)
        records = records if records is not None else self._get_records()
        self.env["loyalty.club.sms.campaign"]._queue_from_composer(self, segment, records.ids)
        return self.env["sms.sms"]
