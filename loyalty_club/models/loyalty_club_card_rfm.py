from odoo import api, fields, models
from odoo.tools import SQL

# Members whose first purchase is this recent are "new", whatever their scores.
RFM_NEW_DAYS = 30

RFM_GROUPS = [
    ("champions", "Champions"),
    ("loyal", "Loyal"),
    ("potential", "Potential loyalists"),
    ("new", "New"),
    ("at_risk", "At risk"),
    ("hibernating", "Hibernating"),
    ("lost", "Lost"),
    ("no_purchase", "No purchase"),
]

RFM_FIELDS = (
    "rfm_recency_days",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "rfm_group",
    "rfm_date",
)


class LoyaltyClubCard(models.Model):
    """RFM analysis of the members (recency, frequency, monetary), computed nightly in SQL.

    Source: the daily qualifying totals (``loyalty.club.qualifying.total``) of the member in the
    club, over all the member's cards of the club (a replacement card keeps the history).

    - **Recency**: days since the last day with a purchase (any time).
    - **Frequency**: purchases in the club's RFM window (``rfm_window_days``, default 365).
    - **Monetary**: qualifying spend in the window, in the club's currency (never below 0).

    The scores ``rfm_r``, ``rfm_f`` and ``rfm_m`` (1 to 5) are quintiles (``ntile(5)``) over the
    club's active cards with at least one purchase: 5 is the most recent, the most frequent, the
    biggest spender. Members with the same value get the same score (the lowest quintile the
    value reaches), so a score never depends on the order of ties.

    Groups, the first rule that matches wins:

    1. ``no_purchase``: no purchase at all (scores 0);
    2. ``new``: first purchase within the last 30 days;
    3. ``at_risk``: R ≤ 2 and F ≥ 3; or R ≥ 3 and no purchase for more than twice the member's
       own mean interval between purchase days (needs two purchase days or more): a good customer
       overdue by their own rhythm (members long gone, R ≤ 2, stay hibernating or lost);
    4. ``champions``: R ≥ 4, F ≥ 4 and M ≥ 4;
    5. ``loyal``: R ≥ 3 and F ≥ 4;
    6. ``potential``: R ≥ 3;
    7. ``hibernating``: R = 2 (F ≤ 2);
    8. ``lost``: R = 1 (F ≤ 2).

    Cards that are not active have no RFM values.
    """

    _inherit = "loyalty.club.card"  # pylint: disable=consider-merging-classes-inherited

    rfm_recency_days = fields.Integer(
        "Days since last purchase", readonly=True, copy=False, help="Computed nightly (RFM analysis)."
    )
    rfm_frequency = fields.Integer(
        "Purchases in the RFM window", readonly=True, copy=False, help="Purchases in the club's RFM window."
    )
    rfm_monetary = fields.Monetary(
        "Spend in the RFM window", readonly=True, copy=False, help="Qualifying spend in the club's RFM window."
    )
    rfm_r = fields.Integer("Recency score", readonly=True, copy=False, help="1 to 5; 5 = most recent purchase.")
    rfm_f = fields.Integer("Frequency score", readonly=True, copy=False, help="1 to 5; 5 = most purchases.")
    rfm_m = fields.Integer("Monetary score", readonly=True, copy=False, help="1 to 5; 5 = biggest spend.")
    rfm_group = fields.Selection(RFM_GROUPS, "RFM group", readonly=True, copy=False, index=True)
    rfm_date = fields.Date("RFM computed on", readonly=True, copy=False)

    @api.model
    def _rfm_query(self, club, today):
        """UPDATE of the RFM values of one club's active cards: one statement, set-based."""
        window_start = fields.Date.subtract(today, days=club.rfm_window_days)
        new_since = fields.Date.subtract(today, days=RFM_NEW_DAYS)
        return SQL(
            """
            WITH history AS (
                SELECT t.partner_id,
                       MAX(t.day) AS last_day,
                       MIN(t.day) AS first_day,
                       COUNT(*) AS purchase_days,
                       SUM(t.purchase_count) FILTER (WHERE t.day > %(start)s) AS frequency,
                       SUM(t.amount) FILTER (WHERE t.day > %(start)s) AS monetary
                  FROM loyalty_club_qualifying_total t
                 WHERE t.club_id = %(club)s AND t.day <= %(today)s AND t.purchase_count > 0
              GROUP BY t.partner_id
            ), members AS (
                SELECT c.id AS card_id, h.last_day, h.first_day, h.purchase_days,
                       (%(today)s::date - h.last_day) AS recency,
                       GREATEST(COALESCE(h.frequency, 0), 0) AS frequency,
                       GREATEST(COALESCE(h.monetary, 0), 0) AS monetary
                  FROM loyalty_club_card c
                  JOIN history h ON h.partner_id = c.partner_id
                 WHERE c.club_id = %(club)s AND c.state = 'active'
            ), tiles AS (
                SELECT m.*,
                       ntile(5) OVER (ORDER BY m.last_day, m.card_id) AS r0,
                       ntile(5) OVER (ORDER BY m.frequency, m.card_id) AS f0,
                       ntile(5) OVER (ORDER BY m.monetary, m.card_id) AS m0
                  FROM members m
            ), scores AS (
                SELECT tiles.*,
                       MIN(r0) OVER (PARTITION BY last_day) AS r,
                       MIN(f0) OVER (PARTITION BY frequency) AS f,
                       MIN(m0) OVER (PARTITION BY monetary) AS m
                  FROM tiles
            ), result AS (
                SELECT c.id AS card_id, s.recency, s.frequency, s.monetary, s.r, s.f, s.m,
                       CASE
                           WHEN s.card_id IS NULL THEN 'no_purchase'
                           WHEN s.first_day > %(new_since)s THEN 'new'
                           WHEN (s.r <= 2 AND s.f >= 3)
                             OR (s.r >= 3 AND s.purchase_days >= 2
                                 AND s.recency * (s.purchase_days - 1) > 2 * (s.last_day - s.first_day))
                               THEN 'at_risk'
                           WHEN s.r >= 4 AND s.f >= 4 AND s.m >= 4 THEN 'champions'
                           WHEN s.r >= 3 AND s.f >= 4 THEN 'loyal'
                           WHEN s.r >= 3 THEN 'potential'
                           WHEN s.r = 2 THEN 'hibernating'
                           ELSE 'lost'
                       END AS rfm_group
                  FROM loyalty_club_card c
             LEFT JOIN scores s ON s.card_id = c.id
                 WHERE c.club_id = %(club)s AND c.state = 'active'
            )
            UPDATE loyalty_club_card card
               SET rfm_recency_days = result.recency,
                   rfm_frequency = result.frequency,
                   rfm_monetary = result.monetary,
                   rfm_r = result.r,
                   rfm_f = result.f,
                   rfm_m = result.m,
                   rfm_group = result.rfm_group,
                   rfm_date = %(today)s
              FROM result
             WHERE card.id = result.card_id
               AND (card.rfm_date IS DISTINCT FROM %(today)s
                    OR card.rfm_group IS DISTINCT FROM result.rfm_group
                    OR card.rfm_recency_days IS DISTINCT FROM result.recency
                    OR card.rfm_frequency IS DISTINCT FROM result.frequency
                    OR card.rfm_monetary IS DISTINCT FROM result.monetary
                    OR card.rfm_r IS DISTINCT FROM result.r
                    OR card.rfm_f IS DISTINCT FROM result.f
                    OR card.rfm_m IS DISTINCT FROM result.m)
            """,
            club=club.id,
            today=today,
            start=window_start,
            new_since=new_since,
        )

    @api.model
    def _cron_compute_rfm(self, clubs=None):
        """Nightly RFM scores and groups of every active card, one club at a time.

        Two statements per club (the scores and groups of the active cards; the values of
        cards no longer active cleared), whatever the number of members; idempotent: a second
        run on the same day writes no row. The rules are in the class docstring.

        :param clubs: ``loyalty.club`` records (default: every club)
        :returns: number of cards written
        """
        today = fields.Date.today()
        if clubs is None:
            clubs = (
                self.env["loyalty.club"].sudo().with_context(active_test=False).search([("company_id", "!=", False)])
            )
        self.env.flush_all()
        written = 0
        for club in clubs.sudo():
            self.env.cr.execute(self._rfm_query(club, today))
            written += self.env.cr.rowcount
            self.env.cr.execute(
                SQL(
                    """UPDATE loyalty_club_card
                          SET rfm_recency_days = NULL, rfm_frequency = NULL, rfm_monetary = NULL,
                              rfm_r = NULL, rfm_f = NULL, rfm_m = NULL, rfm_group = NULL, rfm_date = NULL
                        WHERE club_id = %s AND state != 'active' AND rfm_date IS NOT NULL""",
                    club.id,
                )
            )
            written += self.env.cr.rowcount
        self.invalidate_model(list(RFM_FIELDS))
        return written
