from datetime import timedelta

from odoo import api, fields, models


class LoyaltyClubPosting(models.AbstractModel):
    # one subject per file: the demo data's postings, kept out of the posting service itself
    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _post_demo(self, card_id, points, kind, posting_key, reason, days_ago=0, amount=0.0):
        """Demo data helper: post through :meth:`_post` as if it happened ``days_ago`` days ago."""
        when = fields.Datetime.now() - timedelta(days=days_ago)
        card = self.env["loyalty.club.card"].browse(card_id)
        purchase_count = 1 if kind == "earn" else 0
        return self._post(
            card, points, kind, posting_key, reason=reason, date=when, amount=amount, purchase_count=purchase_count
        ).id
