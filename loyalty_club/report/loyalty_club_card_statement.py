from datetime import datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models

EXPIRY_HORIZON_DAYS = 90


class ReportLoyaltyClubCardStatement(models.AbstractModel):
    """Values of the member statement: balance, entries of a period, points expiring soon.

    ``data`` may give ``date_from`` and ``date_to`` (ISO dates, both included); by default the
    statement covers the last 12 months up to today.
    """

    _name = "report.loyalty_club.report_card_statement"
    _description = "Club Member Statement"

    @api.model
    def _get_report_values(self, docids, data=None):
        data = data or {}
        today = fields.Date.context_today(self)
        date_to = fields.Date.to_date(data.get("date_to")) or today
        date_from = fields.Date.to_date(data.get("date_from")) or date_to + relativedelta(months=-12, days=1)
        cards = self.env["loyalty.club.card"].browse(docids)
        return {
            "doc_ids": docids,
            "doc_model": "loyalty.club.card",
            "docs": cards,
            "date_from": date_from,
            "date_to": date_to,
            "statements": {card.id: self._statement_values(card, date_from, date_to) for card in cards},
        }

    @api.model
    def _statement_values(self, card, date_from, date_to, today=None):
        """Opening and closing balance around the period, its entries (oldest first) and the
        unspent points expiring within 90 days of ``today``, per expiry date."""
        Entry = self.env["loyalty.club.entry"]
        start = datetime.combine(date_from, time.min)
        end = datetime.combine(date_to + timedelta(days=1), time.min)
        [[opening]] = Entry._read_group([("card_id", "=", card.id), ("date", "<", start)], [], ["points:sum"])
        entries = Entry.search([("card_id", "=", card.id), ("date", ">=", start), ("date", "<", end)], order="date, id")
        today = today or fields.Date.context_today(self)
        expiring = Entry._read_group(
            [
                ("card_id", "=", card.id),
                ("points_remaining", ">", 0),
                ("expiry_date", ">=", today),
                ("expiry_date", "<=", today + timedelta(days=EXPIRY_HORIZON_DAYS)),
            ],
            ["expiry_date:day"],
            ["points_remaining:sum"],
            order="expiry_date:day",
        )
        opening = opening or 0
        return {
            "opening": opening,
            "entries": entries,
            "points_in": sum(p for p in entries.mapped("points") if p > 0),
            "points_out": -sum(p for p in entries.mapped("points") if p < 0),
            "closing": opening + sum(entries.mapped("points")),
            "expiring": [(day, points) for day, points in expiring],
            "expiring_total": sum(points for _day, points in expiring),
            "expiry_horizon": EXPIRY_HORIZON_DAYS,
            "no_expiry_message": self.with_context(lang=card.partner_id.lang or self.env.lang).env._(
                "No points expire in the next %s days.", EXPIRY_HORIZON_DAYS
            ),
        }
