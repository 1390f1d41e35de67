import base64
import secrets
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, float_round

from ..tools import posting_keys
from ..tools.gift_card_code import format_code, generate_code, mask_code, normalize_code, read_code

GIFT_CARD_PIN_LENGTH = 6
# The full code of an issued card is shown again only to the user who issued it (while the issue
# wizard keeps its lines, an hour at most) or who revealed it with a reason, for a few minutes.
REVEAL_MINUTES = 10
ISSUE_DISPLAY_HOURS = 1
GIFT_CARD_STATES = [
    ("inactive", "Inactive"),
    ("active", "Active"),
    ("used", "Used up"),
    ("expired", "Expired"),
    ("blocked", "Blocked"),
]


class LoyaltyClubGiftCard(models.Model):
    """A gift card: code + PIN, stored value kept as an append-only ledger."""

    _name = "loyalty.club.gift.card"
    _description = "Gift Card"
    _inherit = ["loyalty.club.protected.mixin", "loyalty.club.pin.mixin", "mail.thread"]
    _order = "id desc"
    _rec_name = "code_masked"
    _check_company_auto = True
    # Changed only by the posting service, the PIN methods and the state actions.
    _loyalty_protected_fields = frozenset(
        {"balance", "state", "pin_set", "pin_failed_attempts", "pin_locked", "pin_locked_until"}
    )
    _loyalty_create_only_fields = frozenset({"code"})

    # Nobody reads the code through the ORM (groups "."), so no list, form, export, search, group
    # or RPC shows it: screens show code_masked; server code reads it in sudo.
    code = fields.Char(required=True, copy=False, readonly=True, index=True, groups=".")
    code_display = fields.Char("Printed code", compute="_compute_code_display", store=True, groups=".")
    code_masked = fields.Char("Code", compute="_compute_code_masked", search="_search_code_masked")
    club_id = fields.Many2one(
        "loyalty.club",
        required=True,
        index=True,
        default=lambda self: self.env.company.root_id._loyalty_club_get(),
        check_company=True,
    )
    company_id = fields.Many2one(related="club_id.company_id", store=True, index=True, precompute=True)
    currency_id = fields.Many2one(
        "res.currency",
        required=True,
        default=lambda self: self.env.company.root_id.currency_id,
        help="The card holds money in this currency only.",
    )
    partner_id = fields.Many2one("res.partner", "Owner", index="btree_not_null", tracking=True)
    state = fields.Selection(GIFT_CARD_STATES, default="inactive", required=True, readonly=True, tracking=True)
    date_issued = fields.Date(default=fields.Date.context_today, required=True, readonly=True)
    date_expiry = fields.Date(
        "Valid until",
        tracking=True,
        help="Set when the card is activated (sold or loaded): the club's gift card validity from that day, or "
        "this date if it is later. An inactive card on the shelf never expires.",
    )
    initial_amount = fields.Monetary("Face value", help="Printed value of a card issued in bulk (informative).")
    balance = fields.Monetary(readonly=True, copy=False, default=0.0)
    amount_held = fields.Monetary(
        "Held at tills",
        compute="_compute_balance_available",
        help="Money set aside for payments added at a till whose orders have not reached the server yet.",
    )
    balance_available = fields.Monetary(
        "Available", compute="_compute_balance_available", help="Balance less the money held at tills."
    )
    entry_ids = fields.One2many("loyalty.club.gift.card.entry", "gift_card_id", "Ledger", readonly=True)
    qr_code = fields.Binary("QR code", compute="_compute_qr_code")

    _sql_constraints = [
        ("code_unique", "unique(code)", "This gift card code is already used."),
        ("balance_not_negative", "CHECK(balance >= 0)", "A gift card balance cannot go below zero."),
    ]

    # ------------------------------------------------------------------
    # PIN hooks (see loyalty.club.pin.mixin)
    # ------------------------------------------------------------------
    def _pin_digest_message(self, pin):
        return f"gift:{self.id}:{pin}"

    def _pin_length(self):
        return GIFT_CARD_PIN_LENGTH

    def _pin_usable(self):
        return self.state != "blocked"

    @api.model
    def _uniform_auth_error(self):
        return UserError(self.env._("Unknown gift card, wrong PIN or card not usable."))

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------
    @api.depends("balance")
    def _compute_balance_available(self):
        held = self.env["loyalty.club.hold"].sudo()._held("gift_card_id", self._origin.ids)
        for card in self:
            card.amount_held = held.get(card._origin.id, 0.0)
            card.balance_available = card.currency_id.round(card.balance - card.amount_held)

    @api.depends("code")
    def _compute_code_display(self):
        for card in self:
            card.code_display = format_code(card.sudo().code)

    def _compute_code_masked(self):
        for card in self:
            card.code_masked = card._masked() if card.id else False

    @api.model
    def _search_code_masked(self, operator, value):
        """Find cards by their whole code (any spelling) or by the symbols shown (the last group),
        never by a part of the hidden symbols."""
        if operator not in ("=", "ilike", "like", "=ilike", "=like") or not isinstance(value, str):
            return [("id", "in", [])]
        text = read_code(value.replace("•", ""))
        code = normalize_code(value)
        if code:
            self.env.cr.execute("SELECT id FROM loyalty_club_gift_card WHERE code = %s", [code])
        elif 1 <= len(text) <= 4:
            self.env.cr.execute(
                "SELECT id FROM loyalty_club_gift_card WHERE right(code, 4) LIKE %s",
                [f"%{text}" if operator != "=" else text],
            )
        else:
            return [("id", "in", [])]
        return [("id", "in", [row[0] for row in self.env.cr.fetchall()])]

    @api.depends("code_masked")
    def _compute_display_name(self):
        for card in self:
            card.display_name = card._masked() if card.id else ""

    @api.depends("code")
    @api.depends_context("uid")
    def _compute_qr_code(self):
        Card = self.env["loyalty.club.card"]
        for card in self:
            card.qr_code = (
                base64.b64encode(Card._qr_png(card.sudo().code)) if card.id and card._code_visible() else False
            )

    def _code_visible(self):
        """Whether the current user may see this card's whole code now: server code, the user who
        issued it (while the issue wizard shows it) or a manager who revealed it with a reason."""
        self.ensure_one()
        if self.env.su:
            return True
        now = fields.Datetime.now()
        if (
            self.env["loyalty.club.gift.card.issue.line"]
            .sudo()
            .search_count(
                [
                    ("gift_card_id", "=", self.id),
                    ("create_uid", "=", self.env.uid),
                    ("create_date", ">", now - timedelta(hours=ISSUE_DISPLAY_HOURS)),
                ],
                limit=1,
            )
        ):
            return True
        return bool(
            self.env["loyalty.club.gift.card.reveal.wizard"]
            .sudo()
            .search_count(
                [
                    ("gift_card_id", "=", self.id),
                    ("create_uid", "=", self.env.uid),
                    ("revealed", "=", True),
                    ("create_date", ">", now - timedelta(minutes=REVEAL_MINUTES)),
                ],
                limit=1,
            )
        )

    def _printed_code(self):
        """The code for a printout (grouped by four): whole when :meth:`_code_visible`, else masked."""
        self.ensure_one()
        return format_code(self.sudo().code) if self._code_visible() else self._masked()

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if {"balance", "state", "pin_set", "pin_failed_attempts", "pin_locked", "pin_locked_until"} & set(vals):
                raise UserError(self.env._("Balance, state and PIN of a gift card are set by the club."))
            club = self.env["loyalty.club"].browse(vals["club_id"]) if vals.get("club_id") else None
            club = club or self.env.company.root_id._loyalty_club_get()
            if not club:
                raise UserError(self.env._("Create a club for this company before issuing gift cards."))
            vals["club_id"] = club.id
            if vals.get("code"):
                code = normalize_code(vals["code"])
                if not code:
                    raise ValidationError(self.env._("%s is not a valid gift card code.", vals["code"]))
                vals["code"] = code
            else:
                vals["code"] = self._new_code()
            # a new card is inactive (on the shelf): its validity starts when it is sold or
            # loaded (see _post_gift_card); a date given here is the least it will be valid until
        cards = super().create(vals_list)
        cards._check_minimum_validity()
        return cards

    def write(self, vals):
        if {"club_id", "currency_id"} & set(vals) and self.filtered("entry_ids"):
            raise UserError(self.env._("The club or currency of a gift card with ledger entries cannot change."))
        result = super().write(vals)
        if "date_expiry" in vals:
            self._check_minimum_validity()
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used(self):
        if self.filtered("entry_ids"):
            raise UserError(self.env._("A gift card with ledger entries cannot be deleted; block it instead."))

    def _check_minimum_validity(self):
        for card in self:
            minimum = card.club_id._gift_card_minimum_expiry(card.date_issued)
            if card.date_expiry and card.date_expiry < minimum:
                raise ValidationError(
                    self.env._(
                        "A gift card must stay valid at least until %(date)s (the club's minimum validity).",
                        date=minimum,
                    )
                )

    @api.model
    def _new_code(self):
        """A random code not used yet (75 random bits: a collision is only a safety net)."""
        for _attempt in range(5):
            code = generate_code()
            self.env.cr.execute("SELECT 1 FROM loyalty_club_gift_card WHERE code = %s", [code])
            if not self.env.cr.fetchone():
                return code
        raise UserError(self.env._("Could not generate a unique gift card code; try again."))

    @api.model
    def _new_pin(self):
        return "".join(secrets.choice("0123456789") for _i in range(GIFT_CARD_PIN_LENGTH))

    @api.model
    def _issue(self, club, count=1, amount=0.0, currency=None, partner=None, date_expiry=None, with_pin=True):
        """Create ``count`` inactive gift cards of ``club``, each with a random PIN.

        :returns: ``(cards, {card id: PIN})``; the PINs exist nowhere else in clear, show them once
        """
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10000:
            raise ValidationError(self.env._("Issue between 1 and 10000 gift cards at a time."))
        values = {
            "club_id": club.id,
            "currency_id": (currency or club.currency_id).id,
            "partner_id": partner.id if partner else False,
            "initial_amount": amount or 0.0,
        }
        if date_expiry:
            values["date_expiry"] = date_expiry
        cards = self.create([dict(values) for _i in range(count)])
        pins = {}
        if with_pin:
            for card in cards:
                pins[card.id] = self._new_pin()
                card._set_pin(pins[card.id])
        return cards, pins

    # ------------------------------------------------------------------
    # Lookup and authentication
    # ------------------------------------------------------------------
    @api.model
    def _find_by_code(self, code):
        """The gift card with this code (any case, spaces or hyphens), or an empty recordset.

        :raises ValidationError: not a well-formed code (wrong length, symbol or check symbol)
        """
        normalized = normalize_code(code)
        if not normalized:
            raise ValidationError(self.env._("This is not a valid gift card code."))
        # the code is no readable field (not even in a domain): match it in sudo, then read the
        # card as the caller (its record rules apply)
        card = self.sudo().search([("code", "=", normalized)], limit=1)
        return card if self.env.su else self.search([("id", "in", card.ids)])

    @api.model
    def _code_key(self, code):
        """What a lookup of ``code`` finds a card by (its canonical code; text that is no code, read
        the same way), so the limiter counts every spelling of one code as one."""
        return normalize_code(code) or read_code(code)

    @api.model
    def _authenticate(self, code, pin, club=None):
        """The gift card ``code`` whose PIN is ``pin`` (of ``club`` if given), else one uniform error
        for malformed or unknown codes, wrong or locked PINs, blocked cards and other clubs."""
        try:
            card = self._find_by_code(code)
        except ValidationError:
            card = self.browse()
        if not card or (club is not None and card.club_id != club):
            self._pin_dummy_verify()
            raise self._uniform_auth_error()
        if not card._verify_pin(pin):
            raise self._uniform_auth_error()
        return card

    def _check_spendable(self, company, currency):
        """Raise unless the card can pay in ``company`` (its club) today. A ``currency`` other
        than the card's pays the card's money converted at the day's rate of ``company``."""
        self.ensure_one()
        if self.club_id != company._loyalty_club_get():
            raise self._uniform_auth_error()
        if self.state != "active" or (self.date_expiry and self.date_expiry < fields.Date.context_today(self)):
            raise UserError(self.env._("Gift card %s is not active (used up, expired or blocked).", self._masked()))

    def _available_in(self, currency, company, held=None):
        """The card's available balance (less live holds, or less ``held``) in ``currency`` at
        today's rate, rounded down: paying this much never takes more than the card has."""
        self.ensure_one()
        available = self.currency_id.round(self.balance - (self.amount_held if held is None else held))
        if not currency or currency == self.currency_id or available <= 0:
            return available
        value = self.currency_id._convert(available, currency, company, fields.Date.context_today(self), round=False)
        return float_round(value, precision_rounding=currency.rounding, rounding_method="DOWN")

    def _masked(self):
        self.ensure_one()
        return mask_code(self.sudo().code)

    def _summary(self, currency=None, company=None):
        """What a till or a page may know of a card (no PIN data). For a till in ``currency``
        (of ``company``) other than the card's, ``balance`` and ``balance_available`` are in the
        till's currency at today's rate (rounded down) and ``card_balance`` keeps the card's own."""
        self.ensure_one()
        summary = {
            "id": self.id,
            "code_masked": self._masked(),
            "state": self.state,
            "balance": self.balance,
            "balance_available": self.balance_available,
            "currency_id": self.currency_id.id,
            "card_currency": self.currency_id.name,
            "card_balance": self.balance,
            "date_expiry": fields.Date.to_string(self.date_expiry) if self.date_expiry else False,
            "pin_set": self.pin_set,
        }
        if currency and currency != self.currency_id:
            company = company or self.company_id
            summary.update(
                balance=self._available_in(currency, company, held=0.0),
                balance_available=self._available_in(currency, company),
                currency_id=currency.id,
            )
        return summary

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_block(self):
        """Block the cards: no loading or spending until unblocked."""
        self.check_access("write")
        self.filtered(lambda c: c.state != "blocked").sudo().write({"state": "blocked"})

    def action_unblock(self):
        """Give blocked cards back the state their balance and validity call for."""
        self.check_access("write")
        today = fields.Date.context_today(self)
        for card in self.filtered(lambda c: c.state == "blocked").sudo():
            if not card.entry_ids:
                state = "inactive"  # never sold: a shelf card does not expire
            elif card.date_expiry and card.date_expiry < today:
                state = "expired"
            else:
                state = "active" if card.currency_id.compare_amounts(card.balance, 0) > 0 else "used"
            card.write({"state": state})

    def action_new_pin(self):
        """Give the card a new random PIN, shown once with its code (the card's issue). A card that
        has a PIN already gets a new one from a manager only: it shows the code again."""
        self.ensure_one()
        self.check_access("write")
        if self.pin_set and not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise AccessError(self.env._("Only club managers can replace the PIN of a gift card."))
        pin = self._new_pin()
        self._set_pin(pin)
        wizard = (
            self.env["loyalty.club.gift.card.issue.wizard"]
            .sudo()
            .create({"club_id": self.club_id.id, "count": 1, "amount": 0.0, "state": "done"})
            .sudo(False)
        )
        wizard._show_pins(self, {self.id: pin})
        return wizard._reopen()

    def action_reveal_code(self):
        """Open the wizard that shows a manager the whole code, for a reason logged on the card."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reveal the code"),
            "res_model": "loyalty.club.gift.card.reveal.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_gift_card_id": self.id},
        }

    def action_audit_chain(self):
        """Audit chain: check this gift card's entries against their chain hash and its balance."""
        self.ensure_one()
        self.check_access("read")
        Posting = self.env["loyalty.club.posting"]
        result = {
            "chains": {},
            "gift_chains": Posting._audit_gift_card_chains(self),
            "balances": {},
            "gift_balances": Posting._audit_gift_cards(self),
        }
        return self.env["loyalty.club"]._loyalty_audit_notification(result, Posting._ledger_audit_summary(result))

    def action_view_entries(self):
        """Open the ledger of this gift card."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_gift_card_entry_action")
        action["domain"] = [("gift_card_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Portal, reports, crons
    # ------------------------------------------------------------------
    def _masked_code(self):
        """Code safe to show on a screen: only its last group."""
        self.ensure_one()
        return mask_code(self.sudo().code)

    def _portal_gift_cards(self, partner):
        """Gift cards owned by ``partner``'s commercial entity (for the member portal)."""
        return (
            self.sudo()
            .search([("partner_id", "child_of", partner.commercial_partner_id.id), ("state", "!=", "inactive")])
            .sudo(False)
        )

    @api.model
    def _liability_by_company(self):
        """Outstanding gift card balances today: {(company, currency): amount}, for the companies
        the user may see."""
        groups = self._read_group(
            [("balance", ">", 0), ("state", "in", ("active", "blocked"))],
            ["company_id", "currency_id"],
            ["balance:sum"],
        )
        return {(company, currency): total for company, currency, total in groups}

    @api.model
    def _no_live_hold_sql(self):
        """Condition on ``loyalty_club_gift_card`` rows: no live hold of a till on the card (a
        card that paid an order before it expired keeps what it holds until the order arrives)."""
        return SQL(
            """NOT EXISTS (SELECT 1 FROM loyalty_club_hold h
                            WHERE h.gift_card_id = loyalty_club_gift_card.id AND h.state = 'held'
                              AND h.date_expiry > %s)""",
            fields.Datetime.now(),
        )

    @api.model
    def _cron_expire_gift_cards(self, batch_size=5000):
        """Expire active and used-up cards past their validity date: an expiry entry takes the
        remaining balance out (set-based, one batch per call, idempotent by its key), and old failed
        card checks (``loyalty.club.attempt``) are cleaned up. Inactive cards (on the shelf, never
        sold) never expire: their validity starts at activation. A card with a live hold waits for its order."""
        today = fields.Date.today()
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            SQL(
                """SELECT id FROM loyalty_club_gift_card
                WHERE state IN ('active', 'used') AND date_expiry < %s AND %s
             ORDER BY id LIMIT %s FOR UPDATE""",
                today,
                self._no_live_hold_sql(),
                batch_size,
            )
        )
        card_ids = [row[0] for row in cr.fetchall()]
        if card_ids:
            now = fields.Datetime.now()
            cr.execute(
                SQL(
                    """WITH inserted AS (
                       INSERT INTO loyalty_club_gift_card_entry
                             (gift_card_id, company_id, branch_id, currency_id, kind, amount, balance_after, date,
                              posting_key, origin_model, origin_id, reason, user_id,
                              create_uid, create_date, write_uid, write_date)
                       SELECT id, company_id, company_id, currency_id, 'expire', -balance, 0, %(now)s,
                              %(key)s, 'loyalty.club.gift.card', id,
                              %(reason)s, %(uid)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                         FROM loyalty_club_gift_card
                        WHERE id = ANY(%(cards)s) AND balance > 0
                       ON CONFLICT (posting_key) DO NOTHING
                       RETURNING gift_card_id, amount)
                   UPDATE loyalty_club_gift_card c
                      SET balance = c.balance + COALESCE(i.amount, 0), state = 'expired',
                          write_uid = %(uid)s, write_date = %(now)s
                     FROM (SELECT unnest(%(cards)s::int[]) AS id) b
                LEFT JOIN inserted i ON i.gift_card_id = b.id
                    WHERE c.id = b.id""",
                    now=now,
                    uid=self.env.uid,
                    reason=self.env._("Gift card expired"),
                    cards=card_ids,
                    key=posting_keys.GIFT_CARD_EXPIRY_SQL,
                )
            )
            self.invalidate_model(["balance", "state"])
            self.env["loyalty.club.gift.card.entry"].invalidate_model()
        self.env["loyalty.club.attempt"].sudo()._clean_old()
        cr.execute(
            SQL(
                """SELECT count(*) FROM loyalty_club_gift_card
                WHERE state IN ('active', 'used') AND date_expiry < %s AND %s""",
                today,
                self._no_live_hold_sql(),
            )
        )
        remaining = cr.fetchone()[0]
        self.env["ir.cron"]._notify_progress(done=len(card_ids), remaining=remaining)
        return len(card_ids)

    @api.model
    def _demo_issue(self, club_id, code, pin, amount, key, partner_id=False):
        """Demo data helper: a gift card with a known code and PIN, loaded with ``amount``, owned
        by ``partner_id`` if given."""
        club = self.env["loyalty.club"].browse(club_id)
        card = self.sudo().search([("code", "=", normalize_code(code))], limit=1) or self.create(
            {"club_id": club.id, "code": code, "initial_amount": amount, "partner_id": partner_id}
        )
        if not card.pin_set:
            card._set_pin(pin)
        if amount:
            self.env["loyalty.club.posting"]._post_gift_card(card, amount, "load", key, reason="Demo")
        return card.id
