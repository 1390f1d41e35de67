from datetime import datetime, time, timedelta

import pytz
from dateutil.relativedelta import relativedelta

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools import posting_keys

RULE_KINDS = [
    ("visit", "Per visit"),
    ("join", "On joining"),
    ("profile", "Profile completed"),
    ("referral", "Referral"),
    ("birthday", "Birthday"),
    ("anniversary", "Membership anniversary"),
    ("mission", "Mission"),
    ("nth_purchase", "Every n-th purchase"),
]
PURCHASE_KINDS = ("visit", "referral", "mission", "nth_purchase")
DATE_KINDS = ("birthday", "anniversary")


class LoyaltyClubBonusRule(models.Model):
    """A configurable bonus: points posted through the posting service, exactly once per key."""

    _name = "loyalty.club.bonus.rule"
    _inherit = ["loyalty.club.protected.mixin", "loyalty.club.cached.settings.mixin"]
    _description = "Club Bonus Rule"
    _order = "club_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    club_id = fields.Many2one("loyalty.club", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="club_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="club_id.currency_id")
    kind = fields.Selection(RULE_KINDS, required=True, default="visit")
    points = fields.Integer(
        required=True, default=10, help="Points given (for a referral: to the member who referred)."
    )
    referred_points = fields.Integer("Points for the referred member", help="Referral: points the new member gets.")
    mission_purchases = fields.Integer("Purchases needed", help="Mission: purchases within the period (0 = any).")
    mission_amount = fields.Monetary("Spend needed", help="Mission: amount spent within the period (0 = any).")
    mission_period = fields.Selection(
        [("month", "Calendar month"), ("week", "Calendar week")], "Mission period", default="month"
    )
    nth = fields.Integer("Every n-th purchase", default=5)
    birthday_guard_days = fields.Integer(
        "Ignore birthdays changed within (days)",
        default=180,
        help="A birthday entered or changed less than this many days ago earns no birthday bonus, "
        "so a member cannot move the birthday to collect points.",
    )

    _sql_constraints = [
        ("points_positive", "CHECK(points >= 0 AND referred_points >= 0)", "Bonus points cannot be negative."),
        ("guard_positive", "CHECK(birthday_guard_days >= 0)", "The birthday guard cannot be negative."),
    ]

    @api.constrains("kind", "points", "referred_points", "nth", "mission_purchases", "mission_amount")
    def _check_rule(self):
        for rule in self:
            if rule.kind == "nth_purchase" and rule.nth < 2:
                raise ValidationError(self.env._("An n-th purchase reward needs n of at least 2."))
            if rule.kind == "mission" and rule.mission_purchases <= 0 and rule.mission_amount <= 0:
                raise ValidationError(self.env._("A mission needs a number of purchases or an amount to spend."))
            if rule.mission_purchases < 0 or rule.mission_amount < 0:
                raise ValidationError(self.env._("A mission cannot need a negative number or amount."))
            if not rule.points and not (rule.kind == "referral" and rule.referred_points):
                raise ValidationError(self.env._("A bonus rule must give at least one point."))

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    @api.model
    def _member_tz(self, partner, club):
        """Timezone name of a member: the partner's, else the club company's, else UTC."""
        for name in (partner.tz, club.company_id.partner_id.tz):
            if name and name in pytz.all_timezones_set:
                return name
        return "UTC"

    @api.model
    def _local_datetime(self, when, partner, club):
        """Naive local datetime of the naive UTC datetime ``when`` in the member's timezone."""
        tz = pytz.timezone(self._member_tz(partner, club))
        return pytz.utc.localize(when).astimezone(tz).replace(tzinfo=None)

    @api.model
    def _member_card(self, partner, club):
        """The member's newest active card in the club (bonuses from profiles and dates go there)."""
        return (
            self.env["loyalty.club.card"]
            .sudo()
            .search(
                [("partner_id", "=", partner.id), ("club_id", "=", club.id), ("state", "=", "active")],
                order="id desc",
                limit=1,
            )
        )

    def _grant(self, card, points, key, origin=None, branch=None, date=None, reason=None):
        """Post a bonus once per ``key`` (returns the existing entry when it was posted before)."""
        self.ensure_one()
        if points <= 0 or not card or card.state != "active":
            return self.env["loyalty.club.entry"]
        Entry = self.env["loyalty.club.entry"].sudo()
        existing = Entry.search([("posting_key", "=", key)], limit=1)
        if existing:
            return existing
        return self.env["loyalty.club.posting"]._post(
            card,
            points,
            "bonus",
            key,
            origin=origin,
            branch=branch or card.company_id,
            reason=reason or self.name,
            date=date,
        )

    @api.model
    def _active_rules(self, club, kinds):
        """The club's active rules of ``kinds``; every purchase asks, so the answer is cached
        (rules are settings: creating, changing or deleting one clears the cache)."""
        return self.sudo().browse(self._active_rule_ids(club.id, tuple(sorted(kinds))))

    @api.model
    @tools.ormcache("club_id", "kinds")
    def _active_rule_ids(self, club_id, kinds):
        return tuple(self.sudo().search([("club_id", "=", club_id), ("kind", "in", list(kinds))]).ids)

    # ------------------------------------------------------------------
    # Purchase-driven bonuses (called by the posting service after a purchase is earned)
    # ------------------------------------------------------------------
    @api.model
    def _on_purchase(self, card, entry):
        """Evaluate the visit, mission, n-th purchase and referral rules for a purchase ``entry``."""
        rules = self._active_rules(card.club_id, PURCHASE_KINDS)
        if not rules:
            return
        club, partner = card.club_id, card.partner_id
        local = self._local_datetime(entry.date, partner, club)
        common = {"origin": entry, "branch": entry.branch_id or card.company_id, "date": entry.date}
        self.env["loyalty.club.entry"].flush_model()
        for rule in rules:
            if rule.kind == "visit":
                rule._grant(card, rule.points, posting_keys.bonus("visit", rule, partner, local.date()), **common)
            elif rule.kind == "nth_purchase":
                count = self._purchase_count(partner, club)
                if count > 0 and count % rule.nth == 0:
                    rule._grant(card, rule.points, posting_keys.bonus("nth", rule, partner, count), **common)
            elif rule.kind == "mission":
                start, end, label = rule._mission_period(local)
                tz = pytz.timezone(self._member_tz(partner, club))
                start_utc = tz.localize(start).astimezone(pytz.utc).replace(tzinfo=None)
                end_utc = tz.localize(end).astimezone(pytz.utc).replace(tzinfo=None)
                purchases, amount = self._purchase_count(partner, club, start_utc, end_utc, with_amount=True)
                if purchases >= rule.mission_purchases and amount >= rule.mission_amount:
                    rule._grant(card, rule.points, posting_keys.bonus("mission", rule, partner, label), **common)
            elif rule.kind == "referral":
                rule._grant_referral(card, entry, common)

    def _mission_period(self, local):
        """(start, end, label) of the mission period containing the local datetime ``local``."""
        self.ensure_one()
        day = local.date()
        if self.mission_period == "week":
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(days=7)
            year, week, _weekday = day.isocalendar()
            label = f"{year}-W{week:02d}"
        else:
            start = day.replace(day=1)
            end = start + relativedelta(months=1)
            label = f"{day.year}-{day.month:02d}"
        return datetime.combine(start, time.min), datetime.combine(end, time.min), label

    @api.model
    def _purchase_count(self, partner, club, start=None, end=None, with_amount=False):
        """Net purchases (and spend) of a member in a club, optionally between two UTC datetimes."""
        self.env.cr.execute(
            SQL(
                """SELECT COALESCE(SUM(purchase_count), 0), COALESCE(SUM(amount) FILTER (WHERE qualifying), 0)
                     FROM loyalty_club_entry
                    WHERE partner_id = %(partner)s AND club_id = %(club)s
                      AND (%(start)s::timestamp IS NULL OR date >= %(start)s::timestamp)
                      AND (%(end)s::timestamp IS NULL OR date < %(end)s::timestamp)""",
                partner=partner.id,
                club=club.id,
                start=start,
                end=end,
            )
        )
        count, amount = self.env.cr.fetchone()
        return (int(count), float(amount)) if with_amount else int(count)

    def _grant_referral(self, card, entry, common):
        """Referral bonus on the referred member's first paid purchase (both members, once)."""
        self.ensure_one()
        referrer = card.referred_by_card_id
        if not referrer:
            return
        partner, club = card.partner_id, card.club_id
        first = (
            self.env["loyalty.club.entry"]
            .sudo()
            .search_count(
                [("partner_id", "=", partner.id), ("club_id", "=", club.id), ("purchase_count", ">", 0)], limit=2
            )
        )
        if first != 1:
            return
        referrer_card = referrer if referrer.state == "active" else self._member_card(referrer.partner_id, club)
        reason = self.env._("%(rule)s: %(member)s joined", rule=self.name, member=partner.name)
        self._grant(
            referrer_card,
            self.points,
            posting_keys.bonus("referral", self, partner, "referrer"),
            reason=reason,
            **common,
        )
        self._grant(card, self.referred_points, posting_keys.bonus("referral", self, partner, "referred"), **common)

    @api.model
    def _on_purchase_undone(self, earn_entry):
        """Take back the bonuses a purchase gave, when the purchase is cancelled or refunded."""
        Posting = self.env["loyalty.club.posting"]
        bonuses = (
            self.env["loyalty.club.entry"]
            .sudo()
            .search(
                [
                    ("origin_model", "=", "loyalty.club.entry"),
                    ("origin_id", "=", earn_entry.id),
                    ("kind", "=", "bonus"),
                ]
            )
        )
        for bonus in bonuses:
            Posting._post_reversal(
                bonus.card_id,
                bonus.points,
                posting_keys.reversal_of(bonus),
                bonus,
                origin=earn_entry,
                reason=self.env._("Purchase cancelled: %s", bonus.reason or ""),
            )

    # ------------------------------------------------------------------
    # Joining and profile
    # ------------------------------------------------------------------
    @api.model
    def _on_join(self, cards):
        for card in cards.sudo().filtered(lambda c: c.state == "active"):
            for rule in self._active_rules(card.club_id, ["join"]):
                rule._grant(card, rule.points, posting_keys.bonus("join", rule, card.partner_id))

    @api.model
    def _profile_complete(self, partner):
        return bool((partner.phone or partner.mobile) and partner.email and partner.loyalty_birthday)

    @api.model
    def _on_profile(self, partners):
        """Profile bonus once the member's phone, e-mail and birthday are all filled."""
        Card = self.env["loyalty.club.card"].sudo()
        for partner in partners.sudo():
            if not self._profile_complete(partner):
                continue
            for club in Card.search([("partner_id", "=", partner.id), ("state", "=", "active")]).club_id:
                rules = self._active_rules(club, ["profile"])
                card = self._member_card(partner, club) if rules else Card
                for rule in rules:
                    rule._grant(card, rule.points, posting_keys.bonus("profile", rule, partner))

    # ------------------------------------------------------------------
    # Birthday and anniversary cron
    # ------------------------------------------------------------------
    @api.model
    def _date_bonus_query(self, now, limit=None):
        """Due birthday/anniversary bonuses at ``now`` (naive UTC), computed in each member's
        timezone: rows (rule id, card id, local date), one card (the newest active) per member.

        The candidates come from two indexes on the day of the year (members' birthdays, cards'
        issue dates) around today, so a batch reads the day's members, not every card of the club.
        """
        return SQL(
            """WITH zones AS MATERIALIZED (
                -- the server's time zone names, once (a per-row scan of pg_timezone_names is slow)
                SELECT jsonb_object_agg(name, TRUE) AS names FROM pg_timezone_names),
            members AS (
                -- birthdays: members whose birthday falls around today (index on the birthday's day)
                SELECT r.id AS rule_id, r.kind, r.birthday_guard_days, r.club_id, p.id AS partner_id
                  FROM loyalty_club_bonus_rule r
                  JOIN res_partner p
                    ON p.loyalty_birthday IS NOT NULL
                   AND (EXTRACT(MONTH FROM p.loyalty_birthday) * 100
                        + EXTRACT(DAY FROM p.loyalty_birthday))::int = ANY(%(md)s)
                 WHERE r.active AND r.kind = 'birthday'
                UNION ALL
                -- anniversaries: members with a card of the club issued on a day around today
                -- (index on the issue date's day)
                SELECT r.id, r.kind, r.birthday_guard_days, r.club_id, i.partner_id
                  FROM loyalty_club_bonus_rule r
                  JOIN (SELECT DISTINCT c4.partner_id, c4.club_id FROM loyalty_club_card c4
                         WHERE (EXTRACT(MONTH FROM c4.date_issued) * 100
                                + EXTRACT(DAY FROM c4.date_issued))::int = ANY(%(md)s)) i ON i.club_id = r.club_id
                 WHERE r.active AND r.kind = 'anniversary'),
            candidates AS (
                SELECT m.rule_id, m.kind, m.birthday_guard_days, c.id AS card_id, c.partner_id, c.club_id,
                       p.loyalty_birthday, p.loyalty_birthday_changed_on,
                       ((%(now)s::timestamp AT TIME ZONE 'UTC')
                           AT TIME ZONE COALESCE(CASE WHEN z.names ? p.tz THEN p.tz END,
                                                 CASE WHEN z.names ? cp.tz THEN cp.tz END, 'UTC'))::date AS local_date
                  FROM members m
                 CROSS JOIN zones z
                  JOIN loyalty_club club ON club.id = m.club_id
                  JOIN res_company co ON co.id = club.company_id
                  JOIN res_partner cp ON cp.id = co.partner_id
                  JOIN loyalty_club_card c ON c.club_id = m.club_id AND c.partner_id = m.partner_id
                                          AND c.state = 'active'
                  JOIN res_partner p ON p.id = c.partner_id
                 WHERE NOT EXISTS (SELECT 1 FROM loyalty_club_card c2
                                    WHERE c2.partner_id = c.partner_id AND c2.club_id = c.club_id
                                      AND c2.state = 'active' AND c2.id > c.id)),
            due AS (
                SELECT cand.*, EXTRACT(YEAR FROM cand.local_date)::int AS local_year
                  FROM candidates cand
                 WHERE (cand.kind = 'birthday'
                        AND (to_char(cand.loyalty_birthday, 'MM-DD') = to_char(cand.local_date, 'MM-DD')
                             OR (to_char(cand.loyalty_birthday, 'MM-DD') = '02-29'
                                 AND to_char(cand.local_date, 'MM-DD') = '02-28'
                                 AND to_char(cand.local_date + 1, 'MM-DD') = '03-01'))
                        AND (cand.loyalty_birthday_changed_on IS NULL
                             OR cand.loyalty_birthday_changed_on <= cand.local_date - cand.birthday_guard_days))
                    OR (cand.kind = 'anniversary' AND EXISTS (
                        SELECT 1 FROM (SELECT MIN(c3.date_issued) AS since FROM loyalty_club_card c3
                                        WHERE c3.partner_id = cand.partner_id
                                          AND c3.club_id = cand.club_id) m
                         WHERE EXTRACT(YEAR FROM m.since) < EXTRACT(YEAR FROM cand.local_date)
                           AND (to_char(m.since, 'MM-DD') = to_char(cand.local_date, 'MM-DD')
                                OR (to_char(m.since, 'MM-DD') = '02-29'
                                    AND to_char(cand.local_date, 'MM-DD') = '02-28'
                                    AND to_char(cand.local_date + 1, 'MM-DD') = '03-01')))))
            SELECT rule_id, card_id, local_date FROM due
             WHERE NOT EXISTS (
                   SELECT 1 FROM loyalty_club_entry e
                    WHERE e.posting_key = %(key)s)
          ORDER BY card_id, rule_id
             %(limit)s""",
            now=now,
            md=self._month_days_around(now),
            limit=SQL("LIMIT %s", limit) if limit else SQL(),
            key=posting_keys.DUE_BONUS_SQL,
        )

    @api.model
    def _month_days_around(self, now):
        """month * 100 + day of the UTC day before, of and after ``now`` (every timezone's today)."""
        days = [(now + timedelta(days=delta)).date() for delta in (-1, 0, 1)]
        values = {day.month * 100 + day.day for day in days}
        if 228 in values:
            values.add(229)
        return sorted(values)

    @api.model
    def _cron_date_bonuses(self, batch_size=1000):
        """Daily: birthday and anniversary bonuses due today in each member's timezone.

        One batch per call, set-based: the due members selected in SQL, their bonuses posted
        (:meth:`~odoo.addons.loyalty_club.models.loyalty_club_posting.LoyaltyClubPosting._post_credits`)
        and the birthday messages queued together, in a fixed number of queries; idempotent and
        resumable: what was granted has its key, so the next call picks up the rest. Reports
        progress so the cron runner calls again until nothing is due. Returns the number granted.
        """
        now = fields.Datetime.now()
        self.env.flush_all()
        self.env.cr.execute(self._date_bonus_query(now, limit=batch_size))
        rows = self.env.cr.fetchall()
        rules = self.sudo().browse([row[0] for row in rows])
        cards = self.env["loyalty.club.card"].sudo().browse([row[1] for row in rows])
        postings = []
        for rule, card, (_rule_id, _card_id, local_date) in zip(rules, cards, rows, strict=True):
            if rule.points <= 0:
                continue
            if rule.kind == "birthday":
                reason = self.env._("Happy birthday! %s", rule.name)
            else:
                reason = self.env._("Happy membership anniversary! %s", rule.name)
            postings.append(
                {
                    "card": card,
                    "points": rule.points,
                    "kind": "bonus",
                    "posting_key": posting_keys.bonus(rule.kind, rule, card.partner_id, local_date.year),
                    "reason": reason,
                    "branch": card.company_id,
                    "rule": rule,
                    "year": local_date.year,
                }
            )
        # set-based: the whole batch is posted and announced in a fixed number of statements
        entries = self.env["loyalty.club.posting"]._post_credits(postings)
        self.env["loyalty.club.notification"]._notify_many(
            [
                (
                    posting["card"],
                    "birthday",
                    f"birthday:{posting['card'].club_id.id}:{posting['card'].partner_id.id}:{posting['year']}",
                    entry,
                    None,
                )
                for posting, entry in zip(postings, entries, strict=True)
                if posting["rule"].kind == "birthday" and entry
            ]
        )
        remaining = 0
        if len(rows) >= batch_size:
            # Odoo only needs to know whether to call again: count at most one more batch, so the
            # progress report stays O(batch) instead of counting every due member after each batch.
            self.env.flush_all()
            self.env.cr.execute(SQL("SELECT count(*) FROM (%s) due", self._date_bonus_query(now, limit=batch_size)))
            remaining = self.env.cr.fetchone()[0]
        # the scheduler calls again in the same environment: free this batch's records
        self.env.invalidate_all()
        self.env["ir.cron"]._notify_progress(done=len(rows), remaining=remaining)
        return len(rows)
