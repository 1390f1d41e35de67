from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_round, formatLang


class LoyaltyClub(models.Model):
    """Club configuration of one company; its branches share it."""

    _name = "loyalty.club"
    _inherit = ["loyalty.club.protected.mixin", "pos.load.mixin"]
    _description = "Customer Club"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company.root_id,
        domain=[("parent_id", "=", False)],
        help="Root company of the club; its branches use the same club.",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")

    # Earning
    earn_amount = fields.Monetary(
        "Spend",
        default=1.0,
        required=True,
        help="Amount to spend to earn the points below.",
    )
    earn_points = fields.Integer(
        "Earns points",
        default=1,
        required=True,
        help="Points earned for each 'Spend' amount.",
    )
    earn_rounding = fields.Selection(
        [("down", "Round down"), ("half_up", "Round half up"), ("up", "Round up")],
        "Points rounding",
        default="down",
        required=True,
    )
    earn_on_tax_included = fields.Boolean(
        "Earn on amounts with taxes",
        help="Points are computed on line totals including taxes instead of untaxed subtotals.",
    )
    earn_on_points_paid = fields.Boolean(
        "Earn points on the part paid with club points",
        help="Off (default): points are earned on what the member pays in money (gift cards count as "
        "money); reward lines and payments made with club points earn nothing and lower what the "
        "order earns. On: the part paid with points earns too.",
    )
    earn_excluded_categ_ids = fields.Many2many(
        "product.category",
        string="Categories that earn nothing",
        help="Products of these categories (and their subcategories) earn no points.",
    )
    negative_balance_policy = fields.Selection(
        [
            ("allow", "Allow a negative balance"),
            ("partial", "Reverse only what is left"),
        ],
        "When a reversal exceeds the balance",
        default="allow",
        required=True,
        help="A refund or cancellation takes back points the member already spent: either record "
        "the debt (the balance goes negative and must be repaid before redeeming again) or take "
        "back only the points left and note the shortfall on the document.",
    )
    redeem_min_points = fields.Integer(
        "Minimum points to redeem",
        default=0,
        help="Members redeem only once their balance reaches this many points.",
    )
    redeem_pin_required = fields.Boolean(
        "PIN required in the back office",
        default=True,
        help="Staff must enter the member's PIN to use points on a quotation.",
    )
    reward_product_id = fields.Many2one(
        "product.product",
        "Reward line product",
        help="Service product of the discount and credit lines added by rewards (created when first needed).",
    )
    reward_ids = fields.One2many("loyalty.club.reward", "club_id", "Rewards")
    tier_discount_mode = fields.Selection(
        [("line", "As a discount on each line"), ("separate", "As a separate discount line")],
        "Tier discount",
        default="line",
        required=True,
        help="How the automatic discount of a member's tier shows on sale orders.",
    )
    point_value = fields.Monetary(
        "Value of a point",
        default=0.01,
        required=True,
        help="Money value of one point when redeemed.",
    )
    pos_hold_hours = fields.Integer(
        "Till holds last (hours)",
        default=72,
        help="Points and gift card value held at a till for a payment stay set aside this long for the "
        "order to reach the server (a till may be offline for a while); then they are available again.",
    )
    review_user_id = fields.Many2one(
        "res.users",
        "Reviewer of till orders",
        help="Who gets the activity when a paid till order's club part cannot be booked as sent "
        "(default: every club manager of the company).",
    )
    expiry_months = fields.Integer(
        "Points expire after (months)",
        default=12,
        help="Earned points expire this many months after they were earned; 0 = never.",
    )
    pending_days = fields.Integer(
        "Pending period (days)",
        default=0,
        help="Points earned by a purchase can be spent this many days after the purchase (a return "
        "within the period cancels them without leaving a debt); 0 = at once.",
    )

    # PIN policy
    pin_length = fields.Integer("PIN length", default=4, required=True)
    pin_max_attempts = fields.Integer("Attempts before lock", default=3, required=True)
    pin_lock_minutes = fields.Integer(
        "Lock duration (minutes)",
        default=30,
        help="How long a card stays locked after too many wrong PINs; 0 = until a manager unlocks it.",
    )
    pos_points_ready = fields.Boolean(
        "Paying with points set up",
        compute="_compute_pos_points_ready",
        help="The 'Club points' payment method exists and every shop of the club's companies has it.",
    )
    phone_country_id = fields.Many2one(
        "res.country",
        "Phone numbers of",
        compute="_compute_phone_country_id",
        store=True,
        readonly=False,
        precompute=True,
        help="Local numbers typed at the till, in the portal or in an import (0912..., (202) 555-...) are read "
        "as numbers of this country first, then of the company's; numbers in international form (+...) as "
        "they are. By default the company's country.",
    )
    card_prefix = fields.Char(
        "Card number prefix",
        default="7700",
        required=True,
        help="Digits every generated card number starts with (also used by barcode scanners).",
    )
    ledger_audit_date = fields.Datetime("Last ledger audit", readonly=True, copy=False)
    ledger_audit_result = fields.Text(
        "Ledger audit result",
        readonly=True,
        copy=False,
        help="What the last audit of the chained ledgers and the balances found (nightly or Audit chain).",
    )
    has_legacy_numbers = fields.Boolean(
        "Has legacy card numbers",
        readonly=True,
        help="Set when cards keep numbers brought from another system (import or migration). Their "
        "barcodes do not start with the card prefix: a till then tries a scanned barcode that is "
        "no product as a card number.",
    )

    customer_persian_digits = fields.Boolean(
        "Persian digits for customers",
        help="Dates on customer outputs in Persian (portal, receipts, statements, messages) use "
        "Persian digits (۱۴۰۵/۰۹/۰۱) instead of 1405/09/01.",  # noqa: RUF001 - Persian digits on purpose
    )
    barcode_rule_id = fields.Many2one(
        "barcode.rule",
        "Card barcode rule",
        readonly=True,
        copy=False,
        help="Barcode nomenclature rule that makes POS scanners recognise the club's cards.",
    )

    # Tiers
    tier_ids = fields.One2many("loyalty.club.tier", "club_id", "Tiers")
    tier_metric = fields.Selection(
        [
            ("points", "Points earned"),
            ("amount", "Amount spent"),
            ("purchases", "Number of purchases"),
            ("weighted", "Weighted mix"),
        ],
        "Qualify by",
        default="points",
        required=True,
    )
    tier_weight_points = fields.Float("Weight of points", digits=(12, 4), default=1.0)
    tier_weight_amount = fields.Float("Weight of spend", digits=(12, 4), default=0.0)
    tier_weight_purchases = fields.Float("Weight of purchases", digits=(12, 4), default=0.0)
    tier_weight_referrals = fields.Float(
        "Weight of referrals",
        digits=(12, 4),
        default=0.0,
        help="Value of each member the member brought in (a card referred by theirs, issued in the window, "
        "whose member has made a purchase).",
    )
    tier_window = fields.Selection(
        [
            ("lifetime", "Lifetime"),
            ("rolling", "Rolling months"),
            ("calendar_year", "Calendar year"),
        ],
        "Evaluation window",
        default="rolling",
        required=True,
    )
    tier_window_months = fields.Integer("Window (months)", default=12)
    tier_grace_days = fields.Integer(
        "Downgrade grace (days)",
        default=30,
        help="A member who no longer qualifies keeps the tier this many days before being downgraded.",
    )
    rfm_window_days = fields.Integer(
        "RFM window (days)",
        default=365,
        help="Purchases and spend of the last this many days make the frequency and monetary scores of "
        "the RFM analysis.",
    )

    # Discount windows
    discount_stacking = fields.Selection(
        [
            ("best", "Best single discount"),
            ("additive", "Add windows to the tier discount"),
        ],
        "Member discounts combine",
        default="best",
        required=True,
        help="Best single discount: a line gets the larger of the tier discount and the best discount "
        "window. Add: the best window adds to the tier discount, up to the maximum below. Windows never "
        "add up with each other.",
    )
    discount_stacking_max = fields.Float(
        "Maximum combined discount (%)",
        digits="Discount",
        default=100.0,
        help="Largest discount a tier and a window give together on a line.",
    )

    card_count = fields.Integer(compute="_compute_card_count")

    _sql_constraints = [
        ("company_unique", "unique(company_id)", "A company has one club."),
        ("earn_amount_positive", "CHECK(earn_amount > 0)", "The spend per earning step must be positive."),
        ("earn_points_positive", "CHECK(earn_points >= 0)", "Points earned cannot be negative."),
        ("point_value_positive", "CHECK(point_value >= 0)", "The value of a point cannot be negative."),
        ("expiry_positive", "CHECK(expiry_months >= 0)", "The expiry cannot be negative."),
        ("pending_days_positive", "CHECK(pending_days >= 0)", "The pending period cannot be negative."),
        ("pin_length_range", "CHECK(pin_length BETWEEN 4 AND 6)", "The PIN length must be 4 to 6 digits."),
        ("pin_attempts_positive", "CHECK(pin_max_attempts >= 1)", "At least one PIN attempt is needed."),
        ("pin_lock_positive", "CHECK(pin_lock_minutes >= 0)", "The lock duration cannot be negative."),
        ("grace_positive", "CHECK(tier_grace_days >= 0)", "The grace period cannot be negative."),
        ("redeem_min_positive", "CHECK(redeem_min_points >= 0)", "The minimum to redeem cannot be negative."),
        ("window_positive", "CHECK(tier_window_months >= 1)", "The window needs at least one month."),
        ("rfm_window_positive", "CHECK(rfm_window_days >= 1)", "The RFM window needs at least one day."),
        ("notify_cap_positive", "CHECK(notify_cap_per_week >= 0)", "The message cap cannot be negative."),
        ("notify_expiring_days_positive", "CHECK(notify_expiring_days >= 0)", "The reminder days cannot be negative."),
        (
            "discount_stacking_max_range",
            "CHECK(discount_stacking_max > 0 AND discount_stacking_max <= 100)",
            "The maximum combined discount must be more than 0 and at most 100 %.",
        ),
    ]

    @api.depends("company_id")
    def _compute_phone_country_id(self):
        for club in self:
            if not club.phone_country_id:
                club.phone_country_id = club.company_id.country_id

    @api.constrains("company_id")
    def _check_root_company(self):
        for club in self:
            if club.company_id.parent_id:
                raise ValidationError(
                    self.env._(
                        "A club belongs to a root company; the branch %s uses its parent's club.", club.company_id.name
                    )
                )

    @api.constrains("card_prefix")
    def _check_card_prefix(self):
        for club in self:
            prefix = club.card_prefix or ""
            if not (prefix.isascii() and prefix.isdigit() and 1 <= len(prefix) <= 8):
                raise ValidationError(self.env._("The card number prefix must be 1 to 8 digits."))

    @api.constrains("tier_weight_points", "tier_weight_amount", "tier_weight_purchases", "tier_weight_referrals")
    def _check_weights(self):
        for club in self:
            weights = (
                club.tier_weight_points,
                club.tier_weight_amount,
                club.tier_weight_purchases,
                club.tier_weight_referrals,
            )
            if any(weight < 0 for weight in weights):
                raise ValidationError(self.env._("Tier weights cannot be negative."))

    @api.constrains("pending_days")
    def _check_pending_days(self):
        for club in self:
            if club.pending_days < 0:
                raise ValidationError(self.env._("The pending period cannot be negative."))

    @api.constrains("discount_stacking_max")
    def _check_discount_stacking_max(self):
        for club in self:
            if not 0 < club.discount_stacking_max <= 100:
                raise ValidationError(
                    self.env._("The maximum combined discount must be more than 0 and at most 100 %%.")
                )

    def _combine_member_discounts(self, tier_percent, window_percent):
        """(discount %, part of it due to the window) of a line with the tier discount
        ``tier_percent`` and the best window discount ``window_percent`` (0 = none)."""
        self.ensure_one()
        tier_percent, window_percent = tier_percent or 0.0, window_percent or 0.0
        if self.discount_stacking == "additive":
            digits = self.env["decimal.precision"].precision_get("Discount")
            total = max(tier_percent, min(tier_percent + window_percent, self.discount_stacking_max))
            return total, float_round(total - tier_percent, precision_digits=digits)
        if window_percent > tier_percent:
            return window_percent, window_percent
        return tier_percent, 0.0

    def _compute_card_count(self):
        counts = dict(
            self.env["loyalty.club.card"]._read_group([("club_id", "in", self.ids)], ["club_id"], ["__count"])
        )
        for club in self:
            club.card_count = counts.get(club, 0)

    def _compute_points_for_amount(self, amount, multiplier=1.0):
        """Points earned for ``amount`` of money (already filtered), with the tier multiplier.

        Computed in decimal arithmetic from the currency-rounded amounts (so 0.29 / 0.01
        is 29, not 28.999...) and rounded per the club setting; the result is an ``int``.
        """
        self.ensure_one()
        if not amount or amount <= 0 or not self.earn_points:
            return 0

        def to_decimal(value):
            return Decimal(repr(self.currency_id.round(value)))

        raw = to_decimal(amount) / to_decimal(self.earn_amount) * self.earn_points * Decimal(repr(multiplier))
        rounding = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP, "up": ROUND_UP}[self.earn_rounding]
        return int(raw.quantize(Decimal(1), rounding=rounding))

    def _product_earns(self, product):
        """Whether selling ``product`` earns points in this club."""
        self.ensure_one()
        if not product or product.loyalty_club_no_earn or product.loyalty_gift_card:
            return False
        excluded = self.earn_excluded_categ_ids
        return not (excluded and product.categ_id.filtered_domain([("id", "child_of", excluded.ids)]))

    def _points_for_bases(self, bases, currency, company, date=None, multiplier=1.0):
        """Points earned by a document whose earning bases are ``bases`` ({line: amount} in
        ``currency``): ``(points, spend in the club currency, {line: points})``.

        The one earning rule of every channel (sales, POS): the spend is converted to the
        club currency, the club's rate and rounding apply once to the whole document, and
        the points are split over the lines in proportion to their bases.
        """
        self.ensure_one()
        spend = sum(bases.values())
        if currency and currency != self.currency_id:
            spend = currency._convert(spend, self.currency_id, company, date or fields.Date.today())
        points = self._compute_points_for_amount(spend, multiplier or 1.0)
        return points, spend, self._allocate_points(points, bases)

    def _earning_base(self, product, price_unit, quantity, discount, taxes, currency, partner=None, *, force=False):
        """The one earning base of a document line, for every channel (Sales, invoices, POS).

        Computed on the server from the unit price, quantity, discount (%) and taxes (already
        mapped by the fiscal position) in ``currency``, never from totals a client sent: the
        untaxed or taxed amount per the club's setting, or 0 for a product that earns nothing.
        Negative lines (global discounts, negative quantities that are not refunds) give a
        negative base: they lower what the document earns, the same way in every channel. Each
        channel leaves out its own non-sales (tips, down payments, reward and refund lines)
        before calling this. ``force``: count the line whatever its product (member discount
        lines and reward lines that lower what the member pays in money).
        """
        self.ensure_one()
        if (not force and not self._product_earns(product)) or not quantity or not price_unit:
            return 0.0
        price = price_unit * (1 - (discount or 0.0) / 100.0)
        if not taxes:
            return currency.round(price * quantity)
        totals = taxes.compute_all(price, currency, quantity, product=product, partner=partner)
        return totals["total_included"] if self.earn_on_tax_included else totals["total_excluded"]

    def _earning_bases_paid_in_money(self, bases, points_paid, total, currency):
        """The earning ``bases`` ({key: amount} in ``currency``) of a document of which ``points_paid``
        out of ``total`` (both taxes included, in ``currency``) was paid with club points.

        With the club setting *earn points on the part paid with club points* off (the default)
        every base is lowered in the same proportion, so points are earned on what the member paid
        in money (gift cards count as money); with it on, or when nothing was paid with points,
        the bases are returned unchanged. For channels where points pay as a tender (POS); Sales
        lowers the base with the reward lines themselves.
        """
        self.ensure_one()
        if self.earn_on_points_paid or not points_paid or not total or points_paid <= 0 or total <= 0:
            return dict(bases)
        money = max(Decimal(0), Decimal(repr(total)) - Decimal(repr(points_paid))) / Decimal(repr(total))
        return {key: currency.round(float(Decimal(repr(amount)) * money)) for key, amount in bases.items()}

    @api.model
    def _format_points(self, points):
        """A number of points as people read it in the user's language: whole, with thousands
        separators ("1,340", never "1,340.00" nor "1340")."""
        return formatLang(self.env, points or 0, digits=0)

    def _to_club_currency(self, amount, currency, company, date=None):
        """``amount`` of ``currency`` in the club currency at ``date``'s rate (the document's date;
        default today), rounded to the club currency."""
        self.ensure_one()
        return self._convert_amount(amount, currency, self.currency_id, company, date)

    def _from_club_currency(self, amount, currency, company, date=None):
        """``amount`` of the club currency (a credit, a cap, a point value) in ``currency`` at
        ``date``'s rate (the document's date; default today), rounded to ``currency``."""
        self.ensure_one()
        return self._convert_amount(amount, self.currency_id, currency, company, date)

    @api.model
    def _convert_amount(self, amount, from_currency, to_currency, company, date=None):
        """``amount`` of ``from_currency`` in ``to_currency`` at the rate of ``date`` (a date or
        datetime; default today) of ``company``, rounded to ``to_currency``."""
        if not from_currency or not to_currency or from_currency == to_currency:
            return (to_currency or from_currency).round(amount)
        when = fields.Date.to_date(date) if date else fields.Date.context_today(self)
        return from_currency._convert(amount, to_currency, company, when)

    @api.model
    def _points_to_reverse(self, earned, reversed_before, share):
        """The one reversal rule: points of a line that earned ``earned`` points still to take
        back when ``share`` (0 to 1, of quantity or amount) of it has been undone in all.

        The target is ``share * earned`` rounded half up (a whole refund takes back everything,
        half of 3 points takes back 2), capped at ``earned``; the result is the target less
        what was taken back before (``reversed_before``), never negative.
        """
        share = min(Decimal(1), max(Decimal(0), Decimal(repr(share)) if not isinstance(share, Decimal) else share))
        target = min(earned, int((share * earned).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
        return max(0, target - reversed_before)

    def _point_value_in(self, currency, company=None, date=None):
        """Money value of one point in ``currency`` at ``date``'s rate (a Toman till of a Rial
        company: a tenth of the Rial value). Not rounded: a point may be worth a fraction."""
        self.ensure_one()
        if not currency or currency == self.currency_id:
            return self.point_value
        rate = self.env["res.currency"]._get_conversion_rate(
            self.currency_id, currency, company or self.company_id, fields.Date.to_date(date) or fields.Date.today()
        )
        return float(Decimal(repr(self.point_value)) * Decimal(repr(rate)))

    @api.model
    def _allocate_points(self, total_points, bases):
        """Split ``total_points`` over ``bases`` ({key: amount}) in proportion, by largest remainder.

        The parts are integers that add up to ``total_points`` exactly.
        """
        positive = {key: Decimal(repr(amount)) for key, amount in bases.items() if amount > 0}
        whole = sum(positive.values())
        if not total_points or not whole:
            return dict.fromkeys(bases, 0)
        shares = {key: amount * total_points / whole for key, amount in positive.items()}
        parts = {key: int(share) for key, share in shares.items()}
        left = total_points - sum(parts.values())
        for key in sorted(shares, key=lambda k: (shares[k] - parts[k], str(k)), reverse=True)[:left]:
            parts[key] += 1
        return {key: parts.get(key, 0) for key in bases}

    def _get_reward_product(self):
        """The service product of reward lines, created on first use."""
        self.ensure_one()
        if not self.reward_product_id:
            product = (
                self.env["product.product"]
                .sudo()
                .create(
                    {
                        "name": self.env._("Club reward"),
                        "type": "service",
                        "sale_ok": False,
                        "purchase_ok": False,
                        "invoice_policy": "order",
                        "loyalty_club_no_earn": True,
                        "taxes_id": False,
                        "list_price": 0.0,
                        "company_id": self.company_id.id,
                    }
                )
            )
            self.sudo().reward_product_id = product
        return self.reward_product_id

    def _expiry_date_from(self, when):
        """Expiry date of points earned on ``when`` (a date), or False when they never expire."""
        self.ensure_one()
        if not self.expiry_months:
            return False
        return when + relativedelta(months=self.expiry_months)

    def _pending_until_from(self, when):
        """End of the pending period of points earned at ``when`` (a datetime), or False when
        they can be spent at once."""
        self.ensure_one()
        if not self.pending_days:
            return False
        return when + relativedelta(days=self.pending_days)

    def _tier_window_start(self, today=None):
        """First date counted by the tier evaluation window, or None for lifetime."""
        self.ensure_one()
        today = today or fields.Date.today()
        if self.tier_window == "rolling":
            return today - relativedelta(months=self.tier_window_months)
        if self.tier_window == "calendar_year":
            return date(today.year, 1, 1)
        return None

    @api.model_create_multi
    def create(self, vals_list):
        clubs = super().create(vals_list)
        clubs._sync_barcode_rules()
        self.env.registry.clear_cache()  # res.company._loyalty_club_id_of_root
        return clubs

    def write(self, vals):
        result = super().write(vals)
        if {"card_prefix", "name", "company_id"} & set(vals):
            self._sync_barcode_rules()
        if {"company_id", "active", "has_legacy_numbers"} & set(vals):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    def action_audit_ledgers(self):
        """Audit chain: check every entry of the club's point and gift card ledgers against its chain
        hash, and every balance against its entries (set-based); the result stays on the club."""
        self.ensure_one()
        self.check_access("read")
        Posting = self.env["loyalty.club.posting"]
        result = Posting._ledger_audit(self)
        summary = Posting._ledger_audit_summary(result)
        self.sudo().write({"ledger_audit_date": fields.Datetime.now(), "ledger_audit_result": summary})
        return self._loyalty_audit_notification(result, summary)

    @api.model
    def _loyalty_audit_notification(self, result, summary):
        broken = any(result.values())
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Audit chain"),
                "message": summary,
                "type": "danger" if broken else "success",
                "sticky": broken,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_open_cards(self):
        """Open the cards of this club."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_card_action")
        action["domain"] = [("club_id", "=", self.id)]
        action["context"] = {"default_club_id": self.id}
        return action
