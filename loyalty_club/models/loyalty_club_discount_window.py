from collections import defaultdict
from datetime import datetime, time, timedelta

import pytz

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import float_compare, float_round

from odoo.addons.base.models.res_partner import _tz_get

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class LoyaltyClubDiscountWindow(models.Model):
    """A time-boxed member discount: dates, weekdays and daily hours, at chosen branches,
    POS shops and sales teams, for chosen tiers or partner tags, on chosen product categories.

    Weekdays and hours are read in the timezone of the branch where the sale happens (the
    window's own timezone when set). Hours from 22:00 to 02:00 cross midnight: the part after
    midnight belongs to the previous day's window (Monday 22:00 to Tuesday 02:00 needs Monday).
    """

    _name = "loyalty.club.discount.window"
    _inherit = ["loyalty.club.protected.mixin", "loyalty.club.cached.settings.mixin"]
    _description = "Club Discount Window"
    _order = "club_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    color = fields.Integer()
    club_id = fields.Many2one(
        "loyalty.club",
        required=True,
        ondelete="cascade",
        index=True,
        default=lambda self: self.env.company._loyalty_club_get(),
    )
    company_id = fields.Many2one(related="club_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="club_id.currency_id")

    # What
    discount_percent = fields.Float("Discount (%)", digits="Discount", required=True, default=10.0)
    max_discount_amount = fields.Monetary(
        "Cap per order",
        help="Largest discount (taxes included) this window gives on one order; 0 = no cap.",
    )
    product_category_ids = fields.Many2many(
        "product.category",
        "loyalty_club_discount_window_product_category_rel",
        "window_id",
        "category_id",
        string="Product categories",
        help="Only products of these categories (and their subcategories). Leave empty for every "
        "product that earns points; gift cards, reward lines and products that earn nothing never "
        "get a window discount.",
    )

    # When
    date_from = fields.Datetime("Starts", required=True, default=fields.Datetime.now)
    date_to = fields.Datetime("Ends", help="Leave empty for a window without an end date.")
    mon = fields.Boolean("Monday", default=True)
    tue = fields.Boolean("Tuesday", default=True)
    wed = fields.Boolean("Wednesday", default=True)
    thu = fields.Boolean("Thursday", default=True)
    fri = fields.Boolean("Friday", default=True)
    sat = fields.Boolean("Saturday", default=True)
    sun = fields.Boolean("Sunday", default=True)
    hour_from = fields.Float(
        "From",
        default=0.0,
        required=True,
        help="Daily start time. When it is later than the end time the window crosses midnight "
        "and the hours after midnight belong to the previous day.",
    )
    hour_to = fields.Float("To", default=24.0, required=True, help="Daily end time (24:00 = end of the day).")
    tz = fields.Selection(
        _tz_get,
        "Timezone",
        help="Timezone of the weekdays and hours. Leave empty to use the timezone of the branch "
        "where the sale happens.",
    )

    # Where
    branch_ids = fields.Many2many(
        "res.company",
        "loyalty_club_discount_window_company_rel",
        "window_id",
        "company_id",
        string="Branches",
        help="Companies or branches (with their sub-branches) where the window applies. Leave empty for all.",
    )
    use_in_pos = fields.Boolean("Point of Sale", default=True)
    pos_config_ids = fields.Many2many(
        "pos.config",
        "loyalty_club_discount_window_pos_config_rel",
        "window_id",
        "config_id",
        string="POS shops",
        help="Leave empty for all shops of the branches.",
    )
    use_in_sales = fields.Boolean("Sales", default=True)
    team_ids = fields.Many2many(
        "crm.team",
        "loyalty_club_discount_window_team_rel",
        "window_id",
        "team_id",
        string="Sales teams",
        help="Sales teams or website channels. Leave empty for all.",
    )

    # Who
    tier_ids = fields.Many2many(
        "loyalty.club.tier",
        "loyalty_club_discount_window_tier_rel",
        "window_id",
        "tier_id",
        string="Tiers",
        domain="[('club_id', '=', club_id)]",
        help="Only members of these tiers. Leave empty for all members.",
    )
    partner_category_ids = fields.Many2many(
        "res.partner.category",
        "loyalty_club_discount_window_partner_category_rel",
        "window_id",
        "category_id",
        string="Partner tags",
        help="Only members with one of these tags. Leave empty for all members.",
    )

    is_active_now = fields.Boolean(
        "Currently active",
        compute="_compute_is_active_now",
        search="_search_is_active_now",
        help="The window gives its discount right now (dates, weekday and hours).",
    )

    @api.constrains("discount_percent")
    def _check_discount_percent(self):
        for window in self:
            if not 0 < window.discount_percent <= 100:
                raise ValidationError(
                    self.env._("The discount of window %s must be more than 0 and at most 100 %%.", window.name)
                )

    @api.constrains("max_discount_amount")
    def _check_max_discount_amount(self):
        for window in self:
            if window.max_discount_amount < 0:
                raise ValidationError(self.env._("The cap of window %s cannot be negative.", window.name))

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for window in self:
            if window.date_to and window.date_to <= window.date_from:
                raise ValidationError(self.env._("Window %s must end after it starts.", window.name))

    @api.constrains("hour_from", "hour_to")
    def _check_hours(self):
        for window in self:
            if not (0 <= window.hour_from < 24 and 0 < window.hour_to <= 24):
                raise ValidationError(
                    self.env._("The daily hours of window %s must be between 00:00 and 24:00.", window.name)
                )
            if float_compare(window.hour_from, window.hour_to, precision_digits=4) == 0:
                raise ValidationError(
                    self.env._(
                        "The daily hours of window %s are empty: it must end at another time than it "
                        "starts (00:00 to 24:00 is the whole day).",
                        window.name,
                    )
                )

    @api.constrains(*WEEKDAYS)
    def _check_weekdays(self):
        for window in self:
            if not window._weekdays():
                raise ValidationError(self.env._("Choose at least one weekday for window %s.", window.name))

    @api.constrains("use_in_pos", "use_in_sales")
    def _check_channels(self):
        for window in self:
            if not (window.use_in_pos or window.use_in_sales):
                raise ValidationError(
                    self.env._("Window %s must apply in the Point of Sale, in Sales or both.", window.name)
                )

    @api.constrains("club_id", "branch_ids", "pos_config_ids", "team_ids")
    def _check_places(self):
        for window in self:
            root = window.company_id
            companies = window.branch_ids | window.pos_config_ids.company_id | window.team_ids.company_id
            if any(company.root_id != root for company in companies):
                raise ValidationError(
                    self.env._(
                        "Window %(window)s can only use branches, shops and teams of %(company)s.",
                        window=window.name,
                        company=root.name,
                    )
                )

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        if default and "name" in default:
            return vals_list
        return [
            dict(vals, name=self.env._("%s (copy)", window.name)) for window, vals in zip(self, vals_list, strict=True)
        ]

    # ------------------------------------------------------------------
    # Time
    # ------------------------------------------------------------------
    def _weekdays(self):
        """Weekday numbers (Monday = 0) on which the window opens."""
        self.ensure_one()
        return [number for number, name in enumerate(WEEKDAYS) if self[name]]

    def _tz_for(self, company=None):
        """Timezone name of the window at ``company`` (a branch): the window's own, the branch's,
        the club company's, else UTC."""
        self.ensure_one()
        return (
            self.tz
            or (company and company.partner_id.tz)
            or (self.branch_ids[:1].partner_id.tz if len(self.branch_ids) == 1 else False)
            or self.company_id.partner_id.tz
            or "UTC"
        )

    def _in_dates(self, when):
        self.ensure_one()
        return self.date_from <= when and (not self.date_to or when < self.date_to)

    def _is_open_at(self, when, company=None):
        """Whether the window gives its discount at ``when`` (naive UTC datetime) at ``company``."""
        self.ensure_one()
        if not self._in_dates(when):
            return False
        local = pytz.utc.localize(when).astimezone(pytz.timezone(self._tz_for(company)))
        hour = local.hour + local.minute / 60 + local.second / 3600
        days = self._weekdays()
        if self.hour_from < self.hour_to:
            return self.hour_from <= hour < self.hour_to and local.weekday() in days
        if hour >= self.hour_from:
            return local.weekday() in days
        if hour < self.hour_to:
            return (local.weekday() - 1) % 7 in days
        return False

    def _open_intervals(self, company, start, end):
        """Intervals (start, end) as naive UTC datetimes, sorted, where the window is open between
        ``start`` and ``end`` (naive UTC) at ``company``."""
        self.ensure_one()
        tz = pytz.timezone(self._tz_for(company))
        first = pytz.utc.localize(start).astimezone(tz).date() - timedelta(days=1)
        last = pytz.utc.localize(end).astimezone(tz).date()
        days = self._weekdays()
        intervals = []
        day = first
        while day <= last:
            if day.weekday() in days:
                midnight = datetime.combine(day, time())
                length = (self.hour_to - self.hour_from) % 24 or 24
                local_start = midnight + timedelta(hours=self.hour_from)
                local_end = local_start + timedelta(hours=length)
                utc_start = tz.localize(local_start, is_dst=False).astimezone(pytz.utc).replace(tzinfo=None)
                utc_end = tz.localize(local_end, is_dst=False).astimezone(pytz.utc).replace(tzinfo=None)
                utc_start = max(utc_start, start, self.date_from)
                utc_end = min(utc_end, end, self.date_to or utc_end)
                if utc_start < utc_end:
                    intervals.append((utc_start, utc_end))
            day += timedelta(days=1)
        return intervals

    def _compute_is_active_now(self):
        now = fields.Datetime.now()
        for window in self:
            window.is_active_now = window.active and window._is_open_at(now)

    def _search_is_active_now(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Unsupported search on 'Currently active'."))
        now = fields.Datetime.now()
        candidates = self.search([("date_from", "<=", now), "|", ("date_to", "=", False), ("date_to", ">", now)])
        open_ids = candidates.filtered(lambda window: window._is_open_at(now)).ids
        return [("id", "in" if (operator == "=") == value else "not in", open_ids)]

    # ------------------------------------------------------------------
    # Evaluation (the server decides; POS and Sales call these)
    # ------------------------------------------------------------------
    def _covers_product(self, product):
        """Whether the window's product categories include ``product`` (empty = all)."""
        self.ensure_one()
        if not self.product_category_ids:
            return True
        path = product.categ_id.parent_path or ""
        return bool({int(part) for part in path.split("/") if part} & set(self.product_category_ids.ids))

    def _matches_member(self, card, tier=None):
        self.ensure_one()
        if self.tier_ids and (card.tier_id if tier is None else tier) not in self.tier_ids:
            return False
        if self.partner_category_ids:
            tags = card.partner_id.category_id | card.partner_id.commercial_partner_id.category_id
            return bool(tags & self.partner_category_ids)
        return True

    def _matches_place(self, company, pos_config=None, team=None):
        self.ensure_one()
        if self.branch_ids and not set(company.sudo().parent_ids.ids) & set(self.branch_ids.ids):
            return False
        if pos_config:
            return self.use_in_pos and (not self.pos_config_ids or pos_config in self.pos_config_ids)
        return self.use_in_sales and (not self.team_ids or team in self.team_ids)

    @api.model
    def _candidate_windows(self, club, start, end, pos_config=None):
        """Active windows of ``club`` whose dates overlap [start, end], for the channel."""
        if not self._club_has_windows(club.id):
            return self.sudo().browse()  # most orders of a club without windows: no query
        domain = [
            ("club_id", "=", club.id),
            ("date_from", "<=", end),
            "|",
            ("date_to", "=", False),
            ("date_to", ">", start),
            ("use_in_pos" if pos_config else "use_in_sales", "=", True),
        ]
        return self.sudo().search(domain)

    @api.model
    @tools.ormcache("club_id")
    def _club_has_windows(self, club_id):
        """Whether the club has any active window (cached; windows clear it when they change)."""
        return bool(self.sudo().search_count([("club_id", "=", club_id)], limit=1))

    @api.model
    def _applicable_windows(self, card, company, when=None, pos_config=None, team=None, tier=None):
        """Windows that give ``card``'s member a discount at ``company`` (a branch) at ``when``
        (naive UTC, default now), in the POS shop ``pos_config`` or else in Sales with ``team``;
        ``tier``: the member's tier at ``when`` (default the card's tier now).

        Returns windows (sudo) ordered by sequence; empty when the card is not an active card of
        the company's club. Refuses a POS shop of another company than ``company``.
        """
        when = when or fields.Datetime.now()
        empty = self.sudo().browse()
        if pos_config and pos_config.company_id != company:
            raise UserError(self.env._("The shop %s does not belong to this branch.", pos_config.name))
        company = company.sudo()
        club = company._loyalty_club_get() if company else None
        card = card.sudo()
        if not club or not card or not card._active_at(when) or card.club_id != club:
            return empty
        windows = self._candidate_windows(club, when, when, pos_config=pos_config)
        return windows.filtered(
            lambda window: (
                window._matches_place(company, pos_config, team)
                and window._matches_member(card, tier)
                and window._is_open_at(when, company)
            )
        )

    def _best_for_product(self, product):
        """The window of ``self`` with the largest discount on ``product`` (first by sequence on a tie)."""
        best = self.browse()
        for window in self:
            if window._covers_product(product) and window.discount_percent > best.discount_percent:
                best = window
        return best

    @api.model
    def _compute_member_discounts(
        self, card, company, items, when=None, pos_config=None, team=None, currency=None, tier=None
    ):
        """Member discounts of ``items`` for ``card`` at ``company`` (branch) at ``when``.

        ``items``: iterable (may be lazy) of ``(key, product, gross)`` where ``gross`` is the undiscounted amount
        of the line, taxes included, in ``currency`` (default: the club currency); the caller
        passes only lines that can get member discounts (no gift cards, reward or discount lines).
        Combines the tier discount and the best applicable window per the club's stacking policy
        and applies each window's cap per order. Returns ``{key: {"percent": total discount %,
        "window": the window (or empty), "window_percent": the part of the % due to the window}}``
        for the items that get a discount. ``tier``: the member's tier at ``when`` (default the
        card's tier now; a POS order is judged with the tier the member had when it was paid).
        """
        card = card.sudo()
        club = card.club_id
        if not card or not card._active_at(when) or not company or company._loyalty_club_get() != club:
            return {}
        currency = currency or club.currency_id
        tier = card.tier_id if tier is None else tier
        tier_percent = tier.discount_percent or 0.0
        windows = self._applicable_windows(card, company, when=when, pos_config=pos_config, team=team, tier=tier)
        if not tier_percent and not windows:
            return {}  # no discount to give: ``items`` (maybe a lazy iterable) is not even computed
        result, capped = {}, defaultdict(list)
        for key, product, gross in items:
            if not club._product_earns(product):
                continue
            window = windows._best_for_product(product)
            percent, window_percent = club._combine_member_discounts(tier_percent, window.discount_percent)
            if not window_percent:
                window = windows.browse()
            if percent:
                result[key] = {"percent": percent, "window": window, "window_percent": window_percent}
            if window and window.max_discount_amount:
                capped[window].append((key, gross))
        digits = self.env["decimal.precision"].precision_get("Discount")
        for window, entries in capped.items():
            cap = window.currency_id._convert(
                window.max_discount_amount, currency, company, (when or fields.Datetime.now()).date()
            )
            savings = currency.round(sum(gross * result[key]["window_percent"] / 100 for key, gross in entries))
            if currency.compare_amounts(savings, cap) <= 0:
                continue
            factor = cap / savings
            for key, _gross in entries:
                line = result[key]
                part = float_round(line["window_percent"] * factor, precision_digits=digits, rounding_method="DOWN")
                if club.discount_stacking == "additive":
                    line.update(percent=line["percent"] - line["window_percent"] + part, window_percent=part)
                elif part > tier_percent:
                    line.update(percent=part, window_percent=part)
                else:
                    line.update(percent=tier_percent, window=window.browse(), window_percent=0.0)
                if not line["percent"]:
                    del result[key]
        return result

    @api.model
    def _pos_windows_for_config(self, pos_config, now=None):
        """Windows of the shop's branch that are open now or later today (the branch's day), as
        plain dicts for the POS. The caller must be allowed in the shop's company.

        Each dict: ``id``, ``name``, ``discount_percent``, ``max_discount_amount`` (in the till's
        currency, at today's rate: the server converts it the same way when it checks the order),
        ``product_category_ids`` (with their subcategories; empty = all), ``tier_ids``,
        ``partner_category_ids`` (empty = all members), ``sequence`` and ``intervals``: a list of
        ``{"start", "end"}`` UTC datetimes as ``"YYYY-MM-DD HH:MM:SS"`` strings, clipped to
        [now, end of today in the branch's timezone].
        """
        pos_config.ensure_one()
        if pos_config.company_id not in self.env.companies:
            raise AccessError(self.env._("You are not allowed to use the shop %s.", pos_config.sudo().name))
        pos_config.check_access("read")
        company = pos_config.company_id.sudo()
        club = company._loyalty_club_get()
        if not club:
            return []
        now = now or fields.Datetime.now()
        currency = pos_config.currency_id
        result = []
        for window in self._candidate_windows(club, now, now + timedelta(days=1), pos_config=pos_config):
            if not window._matches_place(company, pos_config=pos_config):
                continue
            tz = pytz.timezone(window._tz_for(company))
            local_end = datetime.combine(pytz.utc.localize(now).astimezone(tz).date() + timedelta(days=1), time())
            end_of_day = tz.localize(local_end, is_dst=False).astimezone(pytz.utc).replace(tzinfo=None)
            intervals = window._open_intervals(company, now, end_of_day)
            if not intervals:
                continue
            categories = (
                self.env["product.category"].sudo().search([("id", "child_of", window.product_category_ids.ids)])
                if window.product_category_ids
                else self.env["product.category"]
            )
            result.append(
                {
                    "id": window.id,
                    "name": window.name,
                    "sequence": window.sequence,
                    "discount_percent": window.discount_percent,
                    "max_discount_amount": window.currency_id._convert(
                        window.max_discount_amount, currency, company, now.date()
                    ),
                    "product_category_ids": categories.ids,
                    "tier_ids": window.tier_ids.ids,
                    "partner_category_ids": window.partner_category_ids.ids,
                    "intervals": [
                        {"start": fields.Datetime.to_string(start), "end": fields.Datetime.to_string(end)}
                        for start, end in intervals
                    ],
                }
            )
        return result
