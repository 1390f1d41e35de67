import base64
import hashlib
import hmac
import io
import logging
from datetime import timedelta

from odoo import api, fields, models, modules, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from odoo.addons.phone_validation.tools import phone_validation

from ..tools.card_number import is_valid_card_number, luhn_check_digit, normalize_digits

# Numbers of cards brought from another system that have no valid check digit ("legacy").
LEGACY_NUMBER_MIN_LENGTH = 4
LEGACY_NUMBER_MAX_LENGTH = 19
# Context key of imports and migrations: the members are not new, so no welcome message,
# joining or profile bonus, and the importer sets the tier itself.
IMPORT_CONTEXT_KEY = "loyalty_club_import"

_logger = logging.getLogger(__name__)

try:
    import qrcode
except ImportError:  # pragma: no cover - declared in external_dependencies
    qrcode = None

CARD_NUMBER_LENGTH = 16
# Kept by the posting service and the PIN methods in SQL: no create or write sets them, not even
# server code in superuser mode (a balance comes from the ledger, a PIN from its hash).
LEDGER_FIELDS = {
    "balance",
    "pin_set",
    "pin_failed_attempts",
    "pin_locked",
    "pin_locked_until",
    "tier_grace_until",
    "tier_since",
}


class LoyaltyClubCard(models.Model):
    """A member card: number, state, PIN, tier; its balance is kept by the posting service."""

    _name = "loyalty.club.card"
    _description = "Club Member Card"
    _inherit = ["loyalty.club.protected.mixin", "loyalty.club.pin.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _rec_name = "number"
    _check_company_auto = True
    # Changed only by the posting service, the PIN methods, tier evaluation, the replacement
    # wizard and the state actions (see loyalty.club.protected.mixin).
    _loyalty_protected_fields = frozenset(
        {
            "balance",
            "state",
            "pin_set",
            "pin_failed_attempts",
            "pin_locked",
            "pin_locked_until",
            "tier_id",
            "tier_since",
            "tier_grace_until",
            "replaced_by_id",
            "replaces_id",
        }
    )
    _loyalty_create_only_fields = frozenset({"number", "legacy_number"})

    number = fields.Char(
        "Card number",
        required=True,
        copy=False,
        index=True,
        readonly=True,
        default=lambda self: self.env._("New"),
        tracking=True,
    )
    legacy_number = fields.Boolean(
        "Legacy number",
        readonly=True,
        copy=False,
        help="A number brought from another system without a valid check digit: it is found only by "
        "exact match, and a typing mistake in it cannot be detected.",
    )
    club_id = fields.Many2one(
        "loyalty.club",
        required=True,
        index=True,
        default=lambda self: self.env.company.root_id._loyalty_club_get(),
        check_company=True,
    )
    company_id = fields.Many2one(related="club_id.company_id", store=True, index=True, precompute=True)
    currency_id = fields.Many2one(related="club_id.currency_id")
    partner_id = fields.Many2one("res.partner", "Member", required=True, index=True, tracking=True, ondelete="restrict")
    partner_phone_sanitized = fields.Char(
        related="partner_id.phone_sanitized", store=True, index="btree_not_null", string="Member phone (E.164)"
    )
    partner_email = fields.Char(related="partner_id.email")
    state = fields.Selection(
        [
            ("active", "Active"),
            ("blocked", "Blocked"),
            ("lost", "Lost / replaced"),
            ("expired", "Expired"),
        ],
        default="active",
        required=True,
        tracking=True,
        index=True,
    )
    date_issued = fields.Date(default=fields.Date.context_today, required=True)
    date_expiry = fields.Date("Card valid until")
    replaced_by_id = fields.Many2one("loyalty.club.card", "Replaced by", readonly=True, copy=False)
    replaces_id = fields.Many2one("loyalty.club.card", readonly=True, copy=False)
    referred_by_card_id = fields.Many2one(
        "loyalty.club.card",
        "Referred by",
        copy=False,
        index="btree_not_null",
        domain="[('club_id', '=', club_id), ('id', '!=', id)]",
        help="Card of the member who brought this member in; both get the referral bonus when this "
        "member's first purchase is paid.",
    )

    balance = fields.Integer("Points balance", readonly=True, copy=False, default=0)
    balance_value = fields.Monetary("Balance value", compute="_compute_balance_value")
    points_held = fields.Integer(
        "Held at tills",
        compute="_compute_points_available",
        help="Points set aside for payments added at a till whose orders have not reached the server yet.",
    )
    points_available = fields.Integer(
        "Available points",
        compute="_compute_points_available",
        help="Points the member can spend now: the balance less the pending points and the points held at tills.",
    )
    hold_ids = fields.One2many("loyalty.club.hold", "card_id", "Holds", readonly=True)
    points_pending = fields.Integer(
        "Pending points",
        compute="_compute_points_pending",
        help="Points of recent purchases that cannot be spent yet (the club's pending period); they are in "
        "the balance.",
    )
    entry_ids = fields.One2many("loyalty.club.entry", "card_id", "Ledger entries", readonly=True)
    entry_count = fields.Integer(compute="_compute_entry_count")

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

    qr_code = fields.Binary("QR code", compute="_compute_qr_code")
    barcode_image = fields.Binary("Barcode", compute="_compute_qr_code")

    _sql_constraints = [
        ("number_unique", "unique(number)", "This card number is already used."),
        ("balance_sane", "CHECK(balance > -2000000000)", "Balance out of range."),
    ]

    def init(self):
        """Index of the anniversary bonuses: cards by the day of the year they were issued."""
        result = super().init()
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS loyalty_club_card_issued_md_idx
                   ON loyalty_club_card (((EXTRACT(MONTH FROM date_issued) * 100
                                           + EXTRACT(DAY FROM date_issued))::int))"""
        )
        return result

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------
    @api.depends("balance", "club_id.point_value")
    def _compute_balance_value(self):
        for card in self:
            card.balance_value = card.currency_id.round(card.balance * card.club_id.point_value)

    @api.depends("balance")
    def _compute_points_available(self):
        held = self.env["loyalty.club.hold"].sudo()._held("card_id", self._origin.ids)
        pending = self._origin._loyalty_pending_points_by_card() if self._origin.ids else {}
        for card in self:
            card.points_held = held.get(card._origin.id, 0)
            card.points_available = card.balance - pending.get(card._origin.id, 0) - card.points_held

    def _compute_points_pending(self):
        pending = self._loyalty_pending_points_by_card() if self.ids else {}
        for card in self:
            card.points_pending = pending.get(card.id, 0)

    def _loyalty_pending_points_by_card(self, when=None):
        """``{card id: points}`` of the cards' lots still pending at ``when`` (default now), one
        query on the pending-lots index (only lots of the last pending period are read)."""
        self.env["loyalty.club.entry"].flush_model(["card_id", "points_remaining", "pending_until"])
        self.env.cr.execute(
            SQL(
                """SELECT card_id, SUM(points_remaining) FROM loyalty_club_entry
                    WHERE card_id = ANY(%s) AND points_remaining > 0 AND pending_until > %s
                 GROUP BY card_id""",
                self.ids,
                when or fields.Datetime.now(),
            )
        )
        return dict(self.env.cr.fetchall())

    def _loyalty_pending_points(self, when=None):
        """Points of the card that are in its balance but still pending at ``when`` (default now):
        earned by a purchase less than the club's pending period ago and not yet spent or taken back."""
        self.ensure_one()
        return self._loyalty_pending_points_by_card(when).get(self.id, 0)

    def _loyalty_spendable_points(self, when=None):
        """Points the member can spend now: the balance less the pending points. The one check of
        every redemption (the posting service refuses a redemption beyond it, whatever the channel)."""
        self.ensure_one()
        return self.balance - self._loyalty_pending_points(when)

    def _compute_entry_count(self):
        counts = dict(
            self.env["loyalty.club.entry"]._read_group([("card_id", "in", self.ids)], ["card_id"], ["__count"])
        )
        for card in self:
            card.entry_count = counts.get(card, 0)

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

    @api.depends("number")
    def _compute_qr_code(self):
        report = self.env["ir.actions.report"]
        for card in self:
            if card.number and (is_valid_card_number(card.number) or card.legacy_number):
                card.qr_code = base64.b64encode(self._qr_png(card.number)) if qrcode else False
                card.barcode_image = base64.b64encode(
                    report.barcode("Code128", card.number, width=600, height=120, humanreadable=1)
                )
            else:
                card.qr_code = False
                card.barcode_image = False

    @api.model
    def _qr_png(self, value):
        """PNG bytes of a QR code for ``value``."""
        image = qrcode.make(value, box_size=6, border=2)
        stream = io.BytesIO()
        image.save(stream, format="PNG")
        return stream.getvalue()

    @api.depends("number", "partner_id")
    def _compute_display_name(self):
        for card in self:
            card.display_name = f"{card.number} - {card.partner_id.name}" if card.partner_id else card.number

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if (LEDGER_FIELDS | {"tier_id"}) & set(vals):
                raise UserError(self.env._("Balance, PIN state and tier are set by the club, not on creation."))
            number = vals.get("number")
            if vals.get("legacy_number"):
                vals["number"] = self._check_legacy_number_format(number)
                vals["legacy_number"] = not is_valid_card_number(vals["number"])
            elif not number or number == self.env._("New"):
                club = self.env["loyalty.club"].browse(vals.get("club_id")) if vals.get("club_id") else None
                club = club or self.env.company.root_id._loyalty_club_get()
                if not club:
                    raise UserError(self.env._("Create a club for this company before issuing cards."))
                vals["club_id"] = club.id
                vals["number"] = self._generate_number(club)
            else:
                vals["number"] = self._check_number_format(number)
        cards = super().create(vals_list)
        cards.filtered("legacy_number").club_id.filtered(lambda club: not club.has_legacy_numbers).sudo().write(
            {"has_legacy_numbers": True}
        )
        if not self.env.context.get(IMPORT_CONTEXT_KEY):
            cards._assign_initial_tier()
            cards._engage_new_cards()
        return cards

    def _engage_new_cards(self):
        """Welcome message, joining and profile bonuses of newly issued cards."""
        Rule = self.env["loyalty.club.bonus.rule"]
        Notification = self.env["loyalty.club.notification"]
        Rule._on_join(self)
        Rule._on_profile(self.partner_id)
        for card in self.filtered(lambda c: c.state == "active"):
            Notification._notify(card, "welcome", f"welcome:{card.club_id.id}:{card.partner_id.id}", card)

    @api.constrains("referred_by_card_id", "partner_id", "club_id")
    def _check_referral(self):
        for card in self.filtered("referred_by_card_id"):
            referrer = card.referred_by_card_id
            if referrer == card or referrer.partner_id.commercial_partner_id == card.partner_id.commercial_partner_id:
                raise ValidationError(self.env._("A member cannot refer themselves."))
            if referrer.club_id != card.club_id:
                raise ValidationError(self.env._("The referring card must belong to the same club."))
            # Walk up the chain of referrers: reaching this member again would be a cycle.
            seen = set()
            current = referrer
            while current and current.id not in seen:
                seen.add(current.id)
                if current.partner_id == card.partner_id:
                    raise ValidationError(
                        self.env._("Circular referral: %s was (indirectly) referred by this member.", referrer.number)
                    )
                current = current.sudo().referred_by_card_id

    def write(self, vals):
        if LEDGER_FIELDS & set(vals):
            raise UserError(self.env._("Balances and PIN states change only through the club's own operations."))
        if vals.get("state") and vals["state"] != "lost" and self.filtered(lambda c: c.state == "lost"):
            raise UserError(self.env._("A lost card stays lost; its points were moved to the replacement card."))
        if {"partner_id", "club_id"} & set(vals) and self.filtered("entry_ids"):
            raise UserError(self.env._("The member or club of a card with ledger entries cannot be changed."))
        if "referred_by_card_id" in vals and self.filtered(
            lambda c: c.referred_by_card_id and c.referred_by_card_id.id != vals["referred_by_card_id"]
        ):
            raise UserError(self.env._("The referrer of a card cannot be changed once recorded."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_with_entries(self):
        if self.filtered("entry_ids"):
            raise UserError(self.env._("A card with ledger entries cannot be deleted; block it instead."))

    @api.model
    def _check_number_format(self, number):
        """Return ``number`` if it is a valid card number, else raise a clear error."""
        if not isinstance(number, str):
            raise ValidationError(self.env._("A card number must be text made of digits."))
        stripped = normalize_digits(number).strip()
        if not stripped.isascii() or not stripped.isdigit():
            raise ValidationError(self.env._("Card number %s: only digits are allowed (no spaces or letters).", number))
        if not is_valid_card_number(stripped):
            raise ValidationError(self.env._("Card number %s is not valid (wrong length or check digit).", number))
        return stripped

    @api.model
    def _check_legacy_number_format(self, number):
        """Return ``number`` if it may be kept as a legacy number (digits only, 4 to 19 of them)."""
        stripped = normalize_digits(number).strip() if isinstance(number, str) else ""
        if (
            not stripped.isascii()
            or not stripped.isdigit()
            or not LEGACY_NUMBER_MIN_LENGTH <= len(stripped) <= LEGACY_NUMBER_MAX_LENGTH
        ):
            raise ValidationError(
                self.env._(
                    "Card number %(number)s cannot be kept as a legacy number: use %(min)s to %(max)s digits.",
                    number=number,
                    min=LEGACY_NUMBER_MIN_LENGTH,
                    max=LEGACY_NUMBER_MAX_LENGTH,
                )
            )
        return stripped

    @api.model
    def _generate_number(self, club):
        """Next card number of ``club``: prefix, zero-padded sequence and a Luhn check digit."""
        sequence = self.env["ir.sequence"].sudo().next_by_code("loyalty.club.card.number")
        return self._number_from_sequence(club, sequence)

    @api.model
    def _number_from_sequence(self, club, sequence):
        body_length = CARD_NUMBER_LENGTH - 1 - len(club.card_prefix)
        body = club.card_prefix + sequence.zfill(body_length)[-body_length:]
        return body + luhn_check_digit(body)

    @api.model
    def _generate_numbers(self, club, count):
        """``count`` new card numbers of ``club`` (imports): the same numbers as
        :meth:`_generate_number`, drawn from the sequence in one query when it is a plain
        PostgreSQL sequence."""
        if count <= 0:
            return []
        Sequence = self.env["ir.sequence"].sudo()
        sequence = Sequence.search(
            [("code", "=", "loyalty.club.card.number"), ("company_id", "in", [self.env.company.id, False])],
            order="company_id",
            limit=1,
        )
        if not sequence or sequence.implementation != "standard" or sequence.use_date_range:
            return [self._generate_number(club) for _index in range(count)]
        self.env.cr.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [f"ir_sequence_{sequence.id:03d}", count])
        return [
            self._number_from_sequence(club, sequence.get_next_char(number)) for (number,) in self.env.cr.fetchall()
        ]

    # ------------------------------------------------------------------
    # States
    # ------------------------------------------------------------------
    def action_block(self):
        """Block the cards: no earning or spending until unblocked."""
        self.check_access("write")
        self.filtered(lambda c: c.state == "active").sudo().write({"state": "blocked"})

    def action_unblock(self):
        """Re-activate blocked cards."""
        self.check_access("write")
        self.filtered(lambda c: c.state == "blocked").sudo().write({"state": "active"})

    @api.model
    def _cron_expire_cards(self):
        """Mark active or blocked cards whose validity date has passed as expired (one query)."""
        self.flush_model(["state", "date_expiry"])
        self.env.cr.execute(
            """UPDATE loyalty_club_card SET state = 'expired', write_date = (now() at time zone 'UTC')
                WHERE state IN ('active', 'blocked') AND date_expiry < %s
            RETURNING id""",
            [fields.Date.today()],
        )
        expired_ids = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_model(["state"])
        return expired_ids

    def _open_card_wizard(self, res_model, title):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": title,
            "res_model": res_model,
            "view_mode": "form",
            "target": "new",
            "context": {"default_card_id": self.id},
        }

    def action_open_replace_wizard(self):
        """Open the replacement wizard for this card."""
        return self._open_card_wizard("loyalty.club.card.replace.wizard", self.env._("Replace card"))

    def action_open_adjust_wizard(self):
        """Open the manual adjustment wizard (managers)."""
        return self._open_card_wizard("loyalty.club.adjust.wizard", self.env._("Adjust points"))

    def action_open_pin_wizard(self):
        """Open the wizard setting a new PIN."""
        return self._open_card_wizard("loyalty.club.pin.wizard", self.env._("Set PIN"))

    def action_audit_chain(self):
        """Audit chain: check this card's entries against their chain hash and its balance."""
        self.ensure_one()
        self.check_access("read")
        Posting = self.env["loyalty.club.posting"]
        result = {
            "chains": Posting._audit_chains(self),
            "gift_chains": {},
            "balances": Posting._audit_balances(self),
            "gift_balances": {},
        }
        return self.env["loyalty.club"]._loyalty_audit_notification(result, Posting._ledger_audit_summary(result))

    def action_view_entries(self):
        """Open the ledger of this card."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_entry_action")
        action["domain"] = [("card_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Lookup
    # ------------------------------------------------------------------
    @api.model
    def _find_by_number(self, number):
        """Card with this number (validated first), or an empty recordset.

        A number without a valid check digit finds only a card kept with that exact legacy
        number (see :meth:`_check_legacy_number_format`); otherwise it is refused as before.
        """
        try:
            return self.search([("number", "=", self._check_number_format(number))], limit=1)
        except ValidationError:
            stripped = normalize_digits(number).strip() if isinstance(number, str) else ""
            legacy = (
                self.search([("number", "=", stripped), ("legacy_number", "=", True)], limit=1)
                if stripped.isascii() and stripped.isdigit()
                else self.browse()
            )
            if not legacy:
                raise
            return legacy

    @api.model
    def _phone_readings(self, phone, company=None):
        """The valid E.164 forms of ``phone``: read in the club's phone country, then in the
        company's (``0912...`` -> ``+98912...`` in Iran, ``(202) 555-...`` -> ``+1202555...`` in
        the US); a number in international form reads the same everywhere. Raises when none."""
        if not isinstance(phone, str) or not phone.strip():
            raise ValidationError(self.env._("Enter a phone number."))
        company = (company or self.env.company).sudo()
        club = company._loyalty_club_get()
        countries = club.phone_country_id | company.country_id | company.root_id.country_id
        readings = []
        for country in countries or [None]:
            try:
                normalized = phone_validation.phone_format(
                    normalize_digits(phone).strip(),
                    country.code if country else None,
                    country.phone_code if country else None,
                    force_format="E164",
                    raise_exception=True,
                )
            except UserError:
                continue
            if normalized.startswith("+") and normalized not in readings:
                readings.append(normalized)
        if not readings:
            raise ValidationError(self.env._("%s is not a valid phone number.", phone))
        return readings

    @api.model
    def _normalize_phone(self, phone, company=None):
        """E.164 form of ``phone``: its first reading (see ``_phone_readings``)."""
        return self._phone_readings(phone, company)[0]

    @api.model
    def _lookup_text(self, query):
        """``(text, compact)`` of a typed or scanned card number or phone, as the lookups read it:
        Persian and Arabic-Indic digits made ASCII, every run of whitespace (spaces, tabs,
        non-breaking spaces) one space, none at the ends; ``compact`` without any."""
        text = " ".join(normalize_digits(query).split()) if isinstance(query, str) else ""
        return text, text.replace(" ", "")

    @api.model
    def _lookup_key(self, query, company=None):
        """What a card lookup of ``query`` finds a card by: the phone in E.164 (read in the
        company's country) when it reads as one, else the compact number. Every spelling of one
        code gives one key, so the limiter counts them as one (see ``loyalty.club.attempt``)."""
        text, compact = self._lookup_text(query)
        try:
            phone = self._normalize_phone(text, (company or self.env.company).sudo()) if text else None
        except ValidationError:
            phone = None
        return f"phone:{phone}" if phone else f"number:{compact}"

    @api.model
    def _find_by_phone(self, phone, company=None):
        """Active cards of the company's club whose member's phone is ``phone`` (any local form of
        the club's phone country or the company's, or the international form)."""
        company = company or self.env.company
        readings = self._phone_readings(phone, company)
        return self.search(
            [
                ("club_id", "=", company._loyalty_club_get().id),
                ("partner_phone_sanitized", "in", readings),
                ("state", "=", "active"),
            ],
            order="id desc",
        )

    # ------------------------------------------------------------------
    # PIN (hashing, lockout and unlock live in loyalty.club.pin.mixin)
    # ------------------------------------------------------------------
    @api.model
    def _authenticate(self, number, pin):
        """Card for ``number`` whose PIN is ``pin``, else one uniform error.

        Unknown card, malformed number, wrong PIN, locked PIN and a card that is not active
        all give the same message, so a caller learns nothing about which it was.
        """
        try:
            card = self._find_by_number(number)
        except ValidationError:
            card = self.browse()
        if not card:
            self._pin_dummy_verify()
            raise self._uniform_auth_error()
        if not card._verify_pin(pin):
            raise self._uniform_auth_error()
        return card

    # ------------------------------------------------------------------
    # Tiers
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

    def _change_tier(self, tier, reason, note=False):
        """Move the card to ``tier`` and record it in the tier history."""
        self.ensure_one()
        old_tier = self.tier_id
        if old_tier == tier:
            return
        self.sudo().write({"tier_id": tier.id})
        self.env.cr.execute(
            """UPDATE loyalty_club_card SET tier_since = %s, tier_grace_until = NULL WHERE id = %s""",
            [fields.Date.today(), self.id],
        )
        self.invalidate_recordset(["tier_since", "tier_grace_until"])
        history = (
            self.env["loyalty.club.tier.history"]
            .sudo()
            .create(
                {
                    "card_id": self.id,
                    "old_tier_id": old_tier.id,
                    "new_tier_id": tier.id,
                    "reason": reason,
                    "note": note,
                }
            )
        )
        if reason in ("upgrade", "downgrade") and self.state == "active":
            kind = "tier_up" if reason == "upgrade" else "tier_down"
            self.env["loyalty.club.notification"]._notify(self, kind, f"tier:{history.id}", history)

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

    @api.model
    def _change_tiers(self, tier_by_card, reason, note=False):
        """Move many cards to new tiers at once (imports): one UPDATE and one batch of tier
        history rows, whatever the number of cards. No message is sent (``reason`` is not an
        upgrade or a downgrade a member hears about).

        :param tier_by_card: {card: tier}; cards already in their tier are left alone
        """
        changes = [(card, tier) for card, tier in tier_by_card.items() if card.tier_id != tier]
        if not changes:
            return
        self.env.cr.execute(
            """UPDATE loyalty_club_card c
                  SET tier_id = v.tier_id, tier_since = %s, tier_grace_until = NULL,
                      write_uid = %s, write_date = (now() at time zone 'UTC')
                 FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::int[]) AS tier_id) v
                WHERE c.id = v.id""",
            [
                fields.Date.today(),
                self.env.uid,
                [card.id for card, _tier in changes],
                [tier.id for _c, tier in changes],
            ],
        )
        old_tiers = {card.id: card.tier_id.id for card, _tier in changes}
        self.invalidate_model(["tier_id", "tier_since", "tier_grace_until"])
        self.env["loyalty.club.tier.history"].sudo().create(
            [
                {
                    "card_id": card.id,
                    "old_tier_id": old_tiers[card.id],
                    "new_tier_id": tier.id,
                    "reason": reason,
                    "note": note,
                }
                for card, tier in changes
            ]
        )

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
            self._apply_tier_changes(upgrades, fields.Date.today())
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
            auto_commit = not modules.module.current_test
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
            self._apply_tier_changes(changes, today, notify=club.notify_channel != "none")
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

    @api.model
    def _apply_tier_changes(self, changes, today, notify=True):
        """Move cards to new tiers, set-based: ``changes`` is a list of ``(card id, old tier id,
        new tier id, reason, note)``. One UPDATE of the cards, one insert of the history rows and
        the members' messages queued together (tier up or down, active cards, club channel, cap
        and opt-out apply), whatever the number of cards. Returns the history rows."""
        self.env.cr.execute(
            SQL(
                """UPDATE loyalty_club_card c
                      SET tier_id = v.tier_id, tier_since = %s, tier_grace_until = NULL,
                          write_uid = %s, write_date = (now() at time zone 'UTC')
                     FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::int[]) AS tier_id) v
                    WHERE c.id = v.id""",
                today,
                self.env.uid,
                [change[0] for change in changes],
                [change[2] for change in changes],
            )
        )
        self.browse([change[0] for change in changes]).invalidate_recordset(
            ["tier_id", "tier_since", "tier_grace_until", "write_uid", "write_date"]
        )
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
                    if history.card_id.state == "active"
                ]
            )
        return histories

    def _active_at(self, when=None):
        """Whether the card could earn and spend at ``when`` (a datetime, default now): active,
        or expired since then (a POS order paid before the card expired still counts)."""
        self.ensure_one()
        if self.state == "active":
            return True
        return bool(
            when and self.state == "expired" and self.date_expiry and self.date_expiry >= fields.Date.to_date(when)
        )

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

    def _active_successor(self):
        """The card that carries this card's movements now: the end of its replacement chain
        (lost card → its replacement → ...), or the card itself when it was never replaced."""
        self.ensure_one()
        card, seen = self, set()
        while card.replaced_by_id and card.id not in seen:
            seen.add(card.id)
            card = card.replaced_by_id
        return card

    def _masked_number(self):
        """Card number safe to print or show at a till: only the last four digits."""
        self.ensure_one()
        return f"•••• {self.number[-4:]}" if self.number else ""

    # ------------------------------------------------------------------
    # Customer portal helpers
    # ------------------------------------------------------------------
    def _expiring_points(self, days=30):
        """Points of the card's open lots expiring within ``days`` days, as ``[(date, points)]``.

        A lot is usable until the day before its expiry date (it expires on that date).
        """
        self.ensure_one()
        today = fields.Date.today()  # the expiry cron works in UTC dates too
        groups = (
            self.env["loyalty.club.entry"]
            .sudo()
            ._read_group(
                [
                    ("card_id", "=", self.id),
                    ("points_remaining", ">", 0),
                    ("expiry_date", ">", today),
                    ("expiry_date", "<=", today + timedelta(days=days)),
                ],
                ["expiry_date:day"],
                ["points_remaining:sum"],
                order="expiry_date:day ASC",
            )
        )
        return [(expiry_date, points) for expiry_date, points in groups if points]

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

    def _pin_reset_signature(self, user, expiry):
        """Signature of a PIN reset link for ``user`` valid until ``expiry`` (a POSIX time).

        It covers the current PIN hash, so the link stops working once a new PIN is set.
        """
        self.ensure_one()
        self.env.cr.execute("SELECT pin_hash FROM loyalty_club_card WHERE id = %s", [self.id])
        row = self.env.cr.fetchone()
        message = f"loyalty_club.pin_reset:{self.id}:{user.id}:{int(expiry)}:{(row and row[0]) or ''}"
        return hmac.new(self._pin_secret(), message.encode(), hashlib.sha256).hexdigest()

    def _pin_reset_token(self, user, hours=1):
        """Signed token letting ``user`` set a new PIN on this card without the old one."""
        self.ensure_one()
        expiry = int((fields.Datetime.now() + timedelta(hours=hours)).timestamp())
        return f"{self.id}-{expiry}-{self._pin_reset_signature(user, expiry)}"

    @api.model
    def _card_from_pin_reset_token(self, token, user):
        """The card of a valid, unexpired, unused PIN reset ``token`` issued to ``user``, else empty."""
        parts = token.split("-") if isinstance(token, str) else []
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return self.browse()
        card = self.browse(int(parts[0])).exists()
        expiry = int(parts[1])
        if not card or expiry < fields.Datetime.now().timestamp():
            return self.browse()
        if not hmac.compare_digest(card._pin_reset_signature(user, expiry), parts[2]):
            return self.browse()
        return card
