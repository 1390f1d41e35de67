import base64
import io
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..tools.card_number import is_valid_card_number, luhn_check_digit, normalize_digits

# Numbers of cards brought from another system that have no valid check digit ("legacy").
LEGACY_NUMBER_MIN_LENGTH = 4
LEGACY_NUMBER_MAX_LENGTH = 19
# Context key of imports and migrations: the members are not new, so no welcome message,
# joining or profile bonus, and the importer sets the tier itself.
IMPORT_CONTEXT_KEY = "loyalty_club_import"

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

    def _active_at(self, when=None):
        """Whether the card could earn and spend at ``when`` (a datetime, default now): active,
        or expired since then (a POS order paid before the card expired still counts)."""
        self.ensure_one()
        if self.state == "active":
            return True
        return bool(
            when and self.state == "expired" and self.date_expiry and self.date_expiry >= fields.Date.to_date(when)
        )

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
