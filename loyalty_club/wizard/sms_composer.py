from odoo import api, models


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

    def _get_records(self):
        """A segment's members are read from the segment, not from ``res_ids``: Odoo's composer
        evaluates that string with a 100 KB limit (about 11,000 ids)."""
        segment = self._loyalty_segment()
        if segment is None or self.res_ids:
            return super()._get_records()
        return self.env["res.partner"].browse(segment._member_ids())

    @api.depends("res_model", "res_id", "res_ids")
    def _compute_res_ids_count(self):
        segment_composers = self.filtered(
            lambda composer: composer._loyalty_segment() is not None and not composer.res_ids
        )
        for composer in segment_composers:
            composer.res_ids_count = len(composer._get_records())
        return super(SmsComposer, self - segment_composers)._compute_res_ids_count()

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
