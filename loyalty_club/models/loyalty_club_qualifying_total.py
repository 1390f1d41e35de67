from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

TRIGGER_FUNCTION = "loyalty_club_qualifying_total_add"
TRIGGER = "loyalty_club_entry_qualifying_total"


class LoyaltyClubQualifyingTotal(models.Model):
    """Running totals of the qualifying ledger entries of a card, per UTC day.

    The tier metric sums a member's qualifying entries (points, spend, purchases) since the
    start of the club's evaluation window. Summed over the ledger, that cost grows with the
    member's history; summed over these daily totals it is bounded by the length of the window
    (at most one row per card and day), however many entries the card has. The totals are kept
    by the database in the same statement that inserts ledger entries (an ``AFTER INSERT``
    statement trigger on ``loyalty_club_entry``, so inside the posting service's card lock), and
    the ledger is append-only, so they can never drift from it whatever writes the entries
    (posting service, set-based crons, bulk loads). :meth:`_check_against_ledger` proves it.
    """

    _name = "loyalty.club.qualifying.total"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Qualifying Totals per Card and Day"
    _order = "day desc, card_id"
    _log_access = False

    card_id = fields.Many2one("loyalty.club.card", required=True, readonly=True, ondelete="cascade")
    partner_id = fields.Many2one("res.partner", "Member", required=True, readonly=True)
    club_id = fields.Many2one("loyalty.club", required=True, readonly=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    day = fields.Date(required=True, readonly=True, help="UTC day of the ledger entries.")
    points = fields.Integer(readonly=True)
    amount = fields.Monetary("Qualifying spend", readonly=True)
    purchase_count = fields.Integer("Purchases", readonly=True)

    _sql_constraints = [("card_day_unique", "unique(card_id, day)", "One total per card and day.")]

    def init(self):
        """Index of the tier metric, the trigger that keeps the totals, and a one-time backfill
        from the ledger when the table is new."""
        cr = self.env.cr
        cr.execute(
            SQL(
                """
            CREATE INDEX IF NOT EXISTS loyalty_club_qualifying_total_metric_idx
                ON loyalty_club_qualifying_total (partner_id, club_id, day);
            CREATE OR REPLACE FUNCTION %(function)s() RETURNS trigger AS $$
            BEGIN
                INSERT INTO loyalty_club_qualifying_total
                       (card_id, partner_id, club_id, company_id, day, points, amount, purchase_count)
                SELECT card_id, partner_id, club_id, company_id, date::date,
                       SUM(points), SUM(COALESCE(amount, 0)), SUM(COALESCE(purchase_count, 0))
                  FROM new_entries
                 WHERE qualifying
              GROUP BY card_id, partner_id, club_id, company_id, date::date
                ON CONFLICT (card_id, day) DO UPDATE
                   SET points = loyalty_club_qualifying_total.points + EXCLUDED.points,
                       amount = loyalty_club_qualifying_total.amount + EXCLUDED.amount,
                       purchase_count = loyalty_club_qualifying_total.purchase_count + EXCLUDED.purchase_count;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS %(trigger)s ON loyalty_club_entry;
            CREATE TRIGGER %(trigger)s AFTER INSERT ON loyalty_club_entry
                REFERENCING NEW TABLE AS new_entries
                FOR EACH STATEMENT EXECUTE FUNCTION %(function)s();
            """,
                function=SQL.identifier(TRIGGER_FUNCTION),
                trigger=SQL.identifier(TRIGGER),
            )
        )
        cr.execute(
            """SELECT NOT EXISTS (SELECT 1 FROM loyalty_club_qualifying_total)
                  AND EXISTS (SELECT 1 FROM loyalty_club_entry WHERE qualifying)"""
        )
        if cr.fetchone()[0]:
            self._rebuild_from_ledger()

    @api.model
    def _ledger_totals_sql(self, where=None):
        """SELECT of the totals computed from the ledger (same columns as the table)."""
        return SQL(
            """SELECT card_id, partner_id, club_id, company_id, date::date AS day, SUM(points) AS points,
                      SUM(COALESCE(amount, 0)) AS amount, SUM(COALESCE(purchase_count, 0)) AS purchase_count
                 FROM loyalty_club_entry
                WHERE qualifying AND %s
             GROUP BY card_id, partner_id, club_id, company_id, date::date""",
            where or SQL("TRUE"),
        )

    @api.model
    def _rebuild_from_ledger(self):
        """Recompute every total from the ledger (installation, or after a bulk load that
        disabled the trigger). One set-based statement."""
        self.env["loyalty.club.entry"].flush_model()
        self.env.cr.execute("DELETE FROM loyalty_club_qualifying_total")
        self.env.cr.execute(
            SQL(
                """INSERT INTO loyalty_club_qualifying_total
                          (card_id, partner_id, club_id, company_id, day, points, amount, purchase_count)
                   %s""",
                self._ledger_totals_sql(),
            )
        )
        self.invalidate_model()

    @api.model
    def _check_against_ledger(self, cards=None):
        """Cards whose daily totals differ from their ledger: ``{card_id: [day, ...]}`` (read-only,
        for audits and tests; empty when everything matches)."""
        self.env["loyalty.club.entry"].flush_model()
        where = SQL("card_id = ANY(%s)", cards.ids) if cards is not None else SQL("TRUE")
        self.env.cr.execute(
            SQL(
                """SELECT COALESCE(l.card_id, t.card_id), COALESCE(l.day, t.day)
                     FROM (%(ledger)s) l
          FULL OUTER JOIN (SELECT * FROM loyalty_club_qualifying_total WHERE %(where)s) t
                       ON t.card_id = l.card_id AND t.day = l.day
                    WHERE l.card_id IS NULL OR t.card_id IS NULL
                       OR l.points <> t.points OR l.amount <> t.amount OR l.purchase_count <> t.purchase_count
                       OR l.partner_id <> t.partner_id OR l.club_id <> t.club_id
                 ORDER BY 1, 2""",
                ledger=self._ledger_totals_sql(where),
                where=where,
            )
        )
        result = {}
        for card_id, day in self.env.cr.fetchall():
            result.setdefault(card_id, []).append(day)
        return result

    @api.model_create_multi
    def create(self, vals_list):  # pylint: disable=method-required-super
        raise UserError(self.env._("Qualifying totals are kept by the database from the ledger."))

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(self.env._("Qualifying totals are kept by the database from the ledger."))
