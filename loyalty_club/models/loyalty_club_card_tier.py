"""The tier engine of member cards: qualification metric, tier changes, evaluation."""

import threading
from datetime import timedelta

from odoo import api, fields, models, tools
from odoo.tools import SQL


class LoyaltyClubCard(models.Model):
    """Tiers of member cards: the qualification value, upgrades at once, downgrades after the
    grace period (nightly evaluation), one set-based tier change and the tier history."""

    # one subject per file: the card model is extended here for its tiers (and in _lookup, _rfm)
    _inherit = "loyalty.club.card"  # pylint: disable=consider-merging-classes-inherited

    tier_id = fields.Many2one(
        "loyalty.club.tier",
        readonly=True,
        copy=False,
        index=True,
        domain="[('club_id', '=', club_id)]",
    )
    tier_since = fields.Date(readonly=True, copy=False)
    tier_grace_until = fields.Date(
        "Downgrade after",
        readonly=True,
        copy=False,
        help="The member no longer qualifies for the tier and is downgraded at the first evaluation after this date.",
    )
    tier_history_ids = fields.One2many("loyalty.club.tier.history", "card_id", "Tier history", readonly=True)
    tier_metric_value = fields.Float("Qualification value", digits=(16, 2), compute="_compute_tier_progress")
    next_tier_id = fields.Many2one("loyalty.club.tier", compute="_compute_tier_progress")
    next_tier_missing = fields.Float("Missing for next tier", digits=(16, 2), compute="_compute_tier_progress")
    # the form shows the qualification in whole units unless it is money or a weighted mix
    club_tier_metric = fields.Selection(related="club_id.tier_metric", string="Club qualifies by")
    tier_progress = fields.Float("Progress to next tier (%)", compute="_compute_tier_progress")

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------
    @api.depends("tier_id", "balance")
    def _compute_tier_progress(self):
        metrics = self._tier_metric_values() if self.ids else {}
        for card in self:
            value = metrics.get(card.id, 0.0)
            card.tier_metric_value = value
            next_tier = (
                card.tier_id._next_tier()
                if card.tier_id
                else self.env["loyalty.club.tier"].search(
                    [("club_id", "=", card.club_id.id)], order="threshold", limit=1
                )
            )
            if next_tier and next_tier.threshold > value:
                card.next_tier_id = next_tier
                card.next_tier_missing = next_tier.threshold - value
                card.tier_progress = 100.0 * value / next_tier.threshold if next_tier.threshold else 100.0
            else:
                card.next_tier_id = False
                card.next_tier_missing = 0.0
                card.tier_progress = 100.0

    def _tier_at(self, when=None):
        """The tier the member had at ``when`` (a datetime; default now), from the tier history:
        the tier before the first change after ``when``, or the current tier. No query when the
        current tier began before that day or the card was not written since ``when`` (a tier
        change writes the card)."""
        self.ensure_one()
        if (
            not when
            or (self.tier_since and self.tier_since < fields.Date.to_date(when))
            or (self.write_date and self.write_date <= when)
        ):
            return self.tier_id
        change = (
            self.env["loyalty.club.tier.history"]
            .sudo()
            .search([("card_id", "=", self.id), ("date", ">", when)], order="date, id", limit=1)
        )
        return change.old_tier_id if change else self.tier_id

    def _tier_progress_label(self):
        """What the member still needs for the next tier, e.g. "120 more points to Gold"."""
        self.ensure_one()
        tier = self.next_tier_id
        if not tier:
            return self.env._("You have reached the highest tier.") if self.tier_id else ""
        missing = self.next_tier_missing
        whole = int(missing) if missing == int(missing) else int(missing) + 1
        metric = self.club_id.tier_metric
        if metric == "points":
            points = self.env["loyalty.club"]._format_points(whole)
            return self.env._("%(points)s more points to %(tier)s", points=points, tier=tier.name)
        if metric == "purchases":
            count = self.env["loyalty.club"]._format_points(whole)
            return self.env._("%(count)s more purchases to %(tier)s", count=count, tier=tier.name)
        if metric == "amount":
            amount = tools.format_amount(self.env, missing, self.currency_id)
            return self.env._("%(amount)s more spending to %(tier)s", amount=amount, tier=tier.name)
        return self.env._("%(percent)s%% of the way to %(tier)s", percent=int(self.tier_progress), tier=tier.name)

    # ------------------------------------------------------------------
    # Qualification and changes
    # ------------------------------------------------------------------
    def _tier_metric_values(self, today=None):
        """Qualification value per card id, summed over every card of the same member and club.

        One aggregate query over the daily qualifying totals (``loyalty.club.qualifying.total``,
        index on member, club and day): at most one row per card and day of the window, so the
        cost does not grow with the size of the member's ledger.
        """
        if not self:
            return {}
        self.flush_model(["partner_id", "club_id"])
        self.env["loyalty.club.entry"].flush_model()
        result = {}
        for club in self.club_id:
            cards = self.filtered(lambda c, club=club: c.club_id == club)
            self.env.cr.execute(
                SQL(
                    """SELECT c.id, COALESCE(m.value, 0)
                         FROM loyalty_club_card c
                    LEFT JOIN %(metric)s m ON m.partner_id = c.partner_id
                        WHERE c.id = ANY(%(cards)s)""",
                    metric=self._tier_metric_subquery(
                        club, club._tier_window_start(today), SQL("e.partner_id = ANY(%s)", cards.partner_id.ids)
                    ),
                    cards=cards.ids,
                )
            )
            result.update({card_id: float(value or 0) for card_id, value in self.env.cr.fetchall()})
        return result

    def _qualified_tier(self, value, tiers=None):
        """Highest tier of the card's club whose threshold ``value`` reaches.

        :param tiers: the club's active tiers, if already loaded (saves a query per card)
        """
        self.ensure_one()
        if tiers is None:
            tiers = self.club_id.tier_ids
        reached = tiers.filtered(lambda tier: tier.threshold <= value)
        return reached.sorted("threshold")[-1:] if reached else reached

    def _assign_initial_tier(self):
        for card in self.filtered(lambda c: not c.tier_id):
            tier = card._qualified_tier(card._tier_metric_values().get(card.id, 0.0))
            if tier:
                card._change_tier(tier, "initial", self.env._("Card issued"))

    @api.model
    def _tier_metric_subquery(self, club, start, partners):
        """SQL of ``(partner_id, value)`` rows: the qualification value in ``club`` since
        ``start`` (None: lifetime) of the members matched by ``partners``, an SQL condition on
        ``e.partner_id``; from the daily qualifying totals, one row per member and day at most.

        With a weight of referrals (weighted mix), each member the member brought in counts too:
        a card of the club referred by one of the member's cards, issued since ``start``, whose
        member has made a purchase (net of cancellations and refunds) in the club. Read through
        the index of referred cards, per member: a few rows each.
        """
        totals = SQL(
            """SELECT e.partner_id, %(expression)s AS value
                  FROM loyalty_club_qualifying_total e
                 WHERE e.club_id = %(club)s
                   AND %(partners)s
                   AND (%(start)s::date IS NULL OR e.day >= %(start)s::date)
              GROUP BY e.partner_id""",
            expression=self._tier_metric_sql(club),
            club=club.id,
            partners=partners,
            start=start,
        )
        if club.tier_metric != "weighted" or not club.tier_weight_referrals:
            return SQL("(%s)", totals)
        referrals = SQL(
            """SELECT e.partner_id, COUNT(DISTINCT referred.partner_id) * %(weight)s AS value
                  FROM loyalty_club_card e
                  JOIN loyalty_club_card referred ON referred.referred_by_card_id = e.id
                 WHERE e.club_id = %(club)s
                   AND %(partners)s
                   AND referred.partner_id <> e.partner_id
                   AND (%(start)s::date IS NULL OR referred.date_issued >= %(start)s::date)
                   AND (SELECT SUM(t.purchase_count) FROM loyalty_club_qualifying_total t
                         WHERE t.partner_id = referred.partner_id AND t.club_id = %(club)s) > 0
              GROUP BY e.partner_id""",
            weight=club.tier_weight_referrals,
            club=club.id,
            partners=partners,
            start=start,
        )
        return SQL(
            "(SELECT m.partner_id, SUM(m.value) AS value FROM (%s UNION ALL %s) m GROUP BY m.partner_id)",
            totals,
            referrals,
        )

    def _tier_qualifications(self):
        """``{card id: (value, qualified tier id, upgrade)}``: the qualification value (as
        :meth:`_tier_metric_values`), the highest active tier of the club it reaches (or None),
        and whether that tier is above the card's current one. One query per club: the metric
        over the daily totals and the choice of the tier together."""
        if not self:
            return {}
        self.flush_model(["partner_id", "club_id", "tier_id"])
        self.env["loyalty.club.entry"].flush_model()
        self.env["loyalty.club.tier"].flush_model(["club_id", "active", "threshold"])
        result = {}
        for club in self.club_id:
            cards = self.filtered(lambda c, club=club: c.club_id == club)
            self.env.cr.execute(
                SQL(
                    """SELECT c.id, COALESCE(m.value, 0), q.id,
                              q.id IS NOT NULL AND (c.tier_id IS NULL OR q.threshold > current.threshold)
                         FROM loyalty_club_card c
                    LEFT JOIN %(metric)s m ON m.partner_id = c.partner_id
                    LEFT JOIN loyalty_club_tier current ON current.id = c.tier_id
                    LEFT JOIN LATERAL (
                              SELECT t.id, t.threshold FROM loyalty_club_tier t
                               WHERE t.club_id = %(club)s AND t.active AND t.threshold <= COALESCE(m.value, 0)
                            ORDER BY t.threshold DESC, t.id DESC LIMIT 1) q ON TRUE
                        WHERE c.id = ANY(%(cards)s)""",
                    metric=self._tier_metric_subquery(
                        club, club._tier_window_start(), SQL("e.partner_id = ANY(%s)", cards.partner_id.ids)
                    ),
                    club=club.id,
                    cards=cards.ids,
                )
            )
            result.update(
                {
                    card_id: (float(value or 0), tier_id, upgrade)
                    for card_id, value, tier_id, upgrade in self.env.cr.fetchall()
                }
            )
        return result

    def _upgrade_tier_if_qualified(self):
        """Upgrade at once the cards whose member now qualifies for a higher tier (never
        downgrades), and end the grace period of those that qualify again for their tier.

        One query when nothing changes (the usual case of an earning), whatever the ledger size;
        a few more, set-based, for the cards that change.
        """
        qualifications = self._tier_qualifications()
        upgrades, clear_grace = [], []
        for card in self:
            value, tier_id, upgrade = qualifications.get(card.id, (0.0, None, False))
            if upgrade:
                note = self.env._("Qualified with %s", value)
                upgrades.append((card.id, card.tier_id.id or None, tier_id, "upgrade", note))
            elif card.tier_grace_until and (tier_id or False) == (card.tier_id.id or False):
                clear_grace.append(card.id)
        if upgrades:
            self._change_tiers(upgrades, fields.Date.today())
        if clear_grace:
            self.env.cr.execute(
                "UPDATE loyalty_club_card SET tier_grace_until = NULL WHERE id = ANY(%s)", [clear_grace]
            )
            self.browse(clear_grace).invalidate_recordset(["tier_grace_until"])

    @api.model
    def _tier_metric_sql(self, club):
        """SQL aggregate of the club's qualification metric over rows aliased ``e`` with the
        columns ``points``, ``amount`` and ``purchase_count`` (daily qualifying totals)."""
        if club.tier_metric == "points":
            return SQL("SUM(e.points)")
        if club.tier_metric == "amount":
            return SQL("SUM(e.amount)")
        if club.tier_metric == "purchases":
            return SQL("SUM(e.purchase_count)")
        return SQL(
            "SUM(e.points) * %s + SUM(e.amount) * %s + SUM(e.purchase_count) * %s",
            club.tier_weight_points,
            club.tier_weight_amount,
            club.tier_weight_purchases,
        )

    @api.model
    def _cron_evaluate_tiers(self, batch_size=20000, auto_commit=None):
        """Evaluate every active card: upgrade at once, downgrade after the grace period.

        Set-based, in batches of ``batch_size`` card ids per club: one query computes the metric
        and the qualifying tier of every card of the batch and returns only the cards that change;
        the changes are written with one UPDATE per kind and one INSERT of history rows, whatever
        the number of cards. Each batch is committed when run by the scheduler (``auto_commit``,
        default: outside tests), so a run over millions of cards keeps its progress and holds
        its row locks for one batch only.

        :returns: ``{"batches", "upgrade", "downgrade", "grace_started", "grace_cleared"}`` counts
        """
        if auto_commit is None:
            # the thread's flag: set by Odoo's test runner and by pytest-odoo alike
            auto_commit = not getattr(threading.current_thread(), "testing", False)
        today = fields.Date.today()
        summary = dict.fromkeys(("batches", "upgrade", "downgrade", "grace_started", "grace_cleared"), 0)
        self.env.flush_all()
        clubs = self.env["loyalty.club"].sudo().with_context(active_test=False).search([("tier_ids", "!=", False)])
        for club in clubs:
            last_id = 0
            while True:
                self.env.cr.execute(
                    SQL(
                        """SELECT max(id), count(*) FROM (
                               SELECT id FROM loyalty_club_card
                                WHERE club_id = %s AND state = 'active' AND id > %s ORDER BY id LIMIT %s) batch""",
                        club.id,
                        last_id,
                        batch_size,
                    )
                )
                upto, count = self.env.cr.fetchone()
                if not count:
                    break
                self._evaluate_tier_batch(club, last_id, upto, today, summary)
                self.env.flush_all()
                self.invalidate_model(["tier_id", "tier_since", "tier_grace_until"])
                summary["batches"] += 1
                if auto_commit:
                    # the scheduler's run over millions of cards keeps each batch it finished
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                last_id = upto
        return summary

    @api.model
    def _evaluate_tier_batch(self, club, after_id, upto_id, today, summary):
        """Evaluate the active cards of ``club`` with ``after_id < id <= upto_id`` (a few queries)."""
        cr = self.env.cr
        cr.execute(
            SQL(
                """WITH cards AS (
                       SELECT id, partner_id, tier_id, tier_grace_until FROM loyalty_club_card
                        WHERE club_id = %(club)s AND state = 'active' AND id > %(after)s AND id <= %(upto)s),
                   metric AS %(metric)s
                SELECT c.id, c.tier_id, current.threshold, c.tier_grace_until, q.id, q.threshold
                  FROM cards c
             LEFT JOIN metric m ON m.partner_id = c.partner_id
             LEFT JOIN loyalty_club_tier current ON current.id = c.tier_id
             LEFT JOIN LATERAL (
                       SELECT t.id, t.threshold FROM loyalty_club_tier t
                        WHERE t.club_id = %(club)s AND t.active AND t.threshold <= COALESCE(m.value, 0)
                     ORDER BY t.threshold DESC, t.id DESC LIMIT 1) q ON TRUE
                 WHERE (q.id IS NOT NULL AND q.id IS DISTINCT FROM c.tier_id) OR c.tier_grace_until IS NOT NULL""",
                club=club.id,
                after=after_id,
                upto=upto_id,
                metric=self._tier_metric_subquery(
                    club, club._tier_window_start(today), SQL("e.partner_id IN (SELECT partner_id FROM cards)")
                ),
            )
        )
        changes, start_grace, clear_grace = [], [], []
        periodic = self.env._("Periodic evaluation")
        for card_id, current_id, current_threshold, grace_until, tier_id, threshold in cr.fetchall():
            if not tier_id or tier_id == current_id:
                clear_grace.append(card_id)
            elif not current_id or threshold > current_threshold:
                changes.append((card_id, current_id, tier_id, "upgrade", periodic))
            elif not grace_until:
                if club.tier_grace_days:
                    start_grace.append((card_id, today + timedelta(days=club.tier_grace_days)))
                else:
                    changes.append((card_id, current_id, tier_id, "downgrade", periodic))
            elif grace_until <= today:
                note = self.env._("Grace period ended on %s", grace_until)
                changes.append((card_id, current_id, tier_id, "downgrade", note))
        if changes:
            self._change_tiers(changes, today, notify=club.notify_channel != "none")
            for change in changes:
                summary[change[3]] += 1
        if clear_grace:
            cr.execute("UPDATE loyalty_club_card SET tier_grace_until = NULL WHERE id = ANY(%s)", [clear_grace])
            summary["grace_cleared"] += len(clear_grace)
        if start_grace:
            cr.execute(
                SQL(
                    """UPDATE loyalty_club_card c SET tier_grace_until = g.until
                         FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::date[]) AS until) g
                        WHERE c.id = g.id""",
                    [card_id for card_id, _until in start_grace],
                    [until for _card_id, until in start_grace],
                )
            )
            summary["grace_started"] += len(start_grace)

    def _change_tier(self, tier, reason, note=False):
        """Move the cards of ``self`` to ``tier`` (see :meth:`_change_tiers`)."""
        return self._change_tiers([(card.id, card.tier_id.id or None, tier.id, reason, note) for card in self])

    @api.model
    def _change_tiers(self, changes, today=None, notify=True):
        """The one way a card changes tier, set-based: ``changes`` is a list of ``(card id, old
        tier id, new tier id, reason, note)`` (a card already in its new tier is left alone).
        One UPDATE of the cards, one insert of the history rows and, when ``notify``, the
        members' messages of upgrades and downgrades queued together (active cards; the club's
        channel, cap and opt-out apply), whatever the number of cards. Returns the history rows.

        :param today: the day the new tiers start (default today)
        """
        changes = [change for change in changes if (change[1] or None) != (change[2] or None)]
        if not changes:
            return self.env["loyalty.club.tier.history"]
        self.env.cr.execute(
            SQL(
                """UPDATE loyalty_club_card c
                      SET tier_id = v.tier_id, tier_since = %s, tier_grace_until = NULL,
                          write_uid = %s, write_date = (now() at time zone 'UTC')
                     FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::int[]) AS tier_id) v
                    WHERE c.id = v.id""",
                today or fields.Date.today(),
                self.env.uid,
                [change[0] for change in changes],
                [change[2] for change in changes],
            )
        )
        cards = self.browse([change[0] for change in changes])
        cards.invalidate_recordset(["tier_id", "tier_since", "tier_grace_until", "write_uid", "write_date"])
        # what depends on the tier (a quotation's member discount) follows, as after a write
        cards.modified(["tier_id"])
        histories = (
            self.env["loyalty.club.tier.history"]
            .sudo()
            .create(
                [
                    {"card_id": card_id, "old_tier_id": old_id, "new_tier_id": new_id, "reason": reason, "note": note}
                    for card_id, old_id, new_id, reason, note in changes
                ]
            )
        )
        if notify:
            self.env["loyalty.club.notification"]._notify_many(
                [
                    (
                        history.card_id,
                        "tier_up" if history.reason == "upgrade" else "tier_down",
                        f"tier:{history.id}",
                        history,
                        None,
                    )
                    for history in histories
                    if history.reason in ("upgrade", "downgrade") and history.card_id.state == "active"
                ]
            )
        return histories
