import math
import numbers

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

MAX_GIFT_CARD_AMOUNT = 1e12
GIFT_CREDIT_KINDS = {"load", "refund"}
GIFT_DEBIT_KINDS = {"redeem", "expire"}


class LoyaltyClubPosting(models.AbstractModel):
    _inherit = "loyalty.club.posting"

    @api.model
    def _check_gift_amount(self, card, amount, kind):
        if kind not in dict(self.env["loyalty.club.gift.card.entry"]._fields["kind"].selection):
            raise ValidationError(self.env._("Unknown kind of gift card movement: %s", kind))
        if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
            raise ValidationError(self.env._("A gift card amount must be a number."))
        try:
            amount = float(amount)  # an int or fraction too big for a float raises OverflowError
        except OverflowError:
            amount = math.inf
        if not math.isfinite(amount) or abs(amount) > MAX_GIFT_CARD_AMOUNT:
            raise ValidationError(self.env._("This gift card amount is out of range."))
        currency = card.currency_id
        amount = currency.round(amount)
        if currency.is_zero(amount):
            raise ValidationError(self.env._("A gift card movement must move some money."))
        if kind in GIFT_CREDIT_KINDS and amount < 0:
            raise ValidationError(self.env._("Loads and refunds put money on the card: the amount must be positive."))
        if kind in GIFT_DEBIT_KINDS and amount > 0:
            raise ValidationError(self.env._("Redemptions and expiries take money off: the amount must be negative."))
        return amount

    @api.model
    def _check_gift_correction(self, card, amount, original):
        """A movement correcting ``original`` (a refund of a redemption, an adjustment) stays on
        its card, goes the other way, and with the earlier corrections of ``original`` never
        moves more than it did. Called under the card's row lock."""
        Entry = self.env["loyalty.club.gift.card.entry"].sudo()
        if original._name != Entry._name or len(original) != 1 or original.sudo().gift_card_id != card:
            raise ValidationError(self.env._("A gift card correction must refer to a movement of the same card."))
        original = original.sudo()
        currency = card.currency_id
        if currency.compare_amounts(original.amount, 0) * currency.compare_amounts(amount, 0) >= 0:
            raise ValidationError(
                self.env._("A correction must move money the other way than the movement it corrects.")
            )
        [(corrected,)] = Entry._read_group([("reversed_entry_id", "=", original.id)], aggregates=["amount:sum"])
        left = currency.round(abs(original.amount) - abs(corrected or 0.0))
        if currency.compare_amounts(abs(amount), left) > 0:
            raise UserError(
                self.env._(
                    "A refund or correction cannot move more than the movement it corrects: "
                    "%(left)s %(currency)s of it are left.",
                    left=max(left, 0.0),
                    currency=currency.name,
                )
            )

    @api.model
    def _check_gift_card_usable(self, card, kind, holds=None, valid_at=None):
        """Refuse a movement of ``kind`` the (locked) gift card cannot take now, or at ``valid_at``
        for its validity date; returns the money other live holds keep from a redemption."""
        today = fields.Date.context_today(self)
        valid_on = min(fields.Date.to_date(valid_at), today) if valid_at else today
        state = card.state
        captures_live_holds = bool(holds) and kind == "redeem" and all(hold._is_live() for hold in holds)
        if kind == "load" and state not in ("inactive", "active", "used"):
            raise UserError(self.env._("Gift card %s cannot be loaded (expired or blocked).", card._masked()))
        if (
            kind in ("load", "redeem", "refund")
            and card.date_expiry
            and card.date_expiry < valid_on
            and state != "inactive"
            and not captures_live_holds
        ):
            raise UserError(self.env._("Gift card %s has expired.", card._masked()))
        if kind == "redeem" and state != "active" and not captures_live_holds:
            raise UserError(self.env._("Gift card %s is not active (used up, expired or blocked).", card._masked()))
        if kind == "refund" and state not in ("active", "used"):
            raise UserError(self.env._("Gift card %s cannot take a refund (expired or blocked).", card._masked()))
        if kind == "redeem" and not captures_live_holds:
            return self.env["loyalty.club.hold"]._held("gift_card_id", [card.id], exclude=holds).get(card.id, 0.0)
        return 0.0

    @api.model
    def _post_gift_card(
        self,
        card,
        amount,
        kind,
        posting_key,
        *,
        origin=None,
        reason=None,
        branch=None,
        pos_config=None,
        reversed_entry=None,
        date=None,
        holds=None,
        valid_at=None,
    ):
        """Post ``amount`` (signed, in the card's currency) of ``kind`` on gift card ``card``
        exactly once per ``posting_key``, under the card's row lock.

        ``load`` activates an inactive or used-up card (an inactive card's validity starts then:
        the club's default from today, or the date it had if later); ``redeem`` needs an active,
        unexpired card and never takes the balance below zero; ``refund`` credits money back;
        ``expire`` and ``adjust`` are corrections (an adjustment that activates an inactive card
        starts its validity too). A card whose balance reaches zero is *used up*. A movement with a
        ``reversed_entry`` (a refund of a redemption, a correcting adjustment) must stay on the
        card, go the other way and, with the earlier corrections of that entry, move no more
        than it did. A redemption that captures live ``holds`` (``loyalty.club.hold``, money set
        aside when the PIN was checked at a till) was judged then: it needs neither an active
        nor an unexpired card; other redemptions can only spend the balance less the live holds.
        ``valid_at`` (a datetime) judges the card's validity date at that time (a POS order is
        judged when it was paid), default today.

        :returns: the ``loyalty.club.gift.card.entry`` (the existing one if the key was posted)
        :raises UserError: not enough money on the card, card not usable, correction too big
        :raises ValidationError: malformed amount, kind, key or correction; key used for another
            movement
        """
        card.ensure_one()
        self._check_posting_keys([posting_key])
        card = card.sudo()
        amount = self._check_gift_amount(card, amount, kind)
        Entry = self.env["loyalty.club.gift.card.entry"].sudo().with_context(loyalty_club_posting=True)
        self._lock_rows(card)
        existing = self._gift_posted_before(card, amount, kind, posting_key)
        if existing:
            return existing.sudo(self.env.su)
        if reversed_entry:
            self._check_gift_correction(card, amount, reversed_entry)
        today = fields.Date.context_today(self)
        now = date or fields.Datetime.now()
        state = card.state
        held = self._check_gift_card_usable(card, kind, holds, valid_at)
        balance = card.currency_id.round(card.balance + amount)
        self._check_gift_balance(card, balance, held)
        entry = Entry.create(
            {
                "gift_card_id": card.id,
                "company_id": card.company_id.id,
                "branch_id": (branch or self.env.company).id,
                "pos_config_id": pos_config.id if pos_config else False,
                "currency_id": card.currency_id.id,
                "kind": kind,
                "amount": amount,
                "balance_after": balance,
                "date": now,
                "posting_key": posting_key,
                "origin_model": origin._name if origin else False,
                "origin_id": origin.id if origin else False,
                "reason": reason,
                "reversed_entry_id": reversed_entry.id if reversed_entry else False,
                "user_id": self.env.uid,
            }
        )
        card.with_context(tracking_disable=True).write(self._gift_card_values_after(card, state, kind, balance, today))
        return entry.sudo(self.env.su)

    @api.model
    def _lock_gift_card_once(self, card, posting_key, message):
        """Lock the row of gift card ``card``; refuse with ``message`` when ``posting_key`` was
        posted before (a back-office action done twice, a double click)."""
        self._lock_rows(card)
        if self.env["loyalty.club.gift.card.entry"].sudo().search_count([("posting_key", "=", posting_key)]):
            raise UserError(message)

    @api.model
    def _gift_posted_before(self, card, amount, kind, posting_key):
        """The gift card entry already posted with ``posting_key`` (empty if none); a key used for
        another movement is refused."""
        Entry = self.env["loyalty.club.gift.card.entry"].sudo().with_context(loyalty_club_posting=True)
        existing = Entry.search([("posting_key", "=", posting_key)], limit=1)
        if existing and (
            existing.gift_card_id != card
            or existing.kind != kind
            or card.currency_id.compare_amounts(existing.amount, amount)
        ):
            raise ValidationError(
                self.env._("The posting key %(key)s was already used for another gift card movement.", key=posting_key)
            )
        return existing

    @api.model
    def _check_gift_balance(self, card, balance, held):
        """Refuse a movement that leaves the locked ``card`` with ``balance`` below its ``held`` money."""
        if card.currency_id.compare_amounts(balance - held, 0) < 0:
            raise UserError(
                self.env._(
                    "Not enough money on gift card %(card)s: the balance is %(balance)s %(currency)s "
                    "(%(held)s held for payments at a till).",
                    card=card._masked(),
                    balance=card.balance,
                    held=held,
                    currency=card.currency_id.name,
                )
            )

    @api.model
    def _gift_card_values_after(self, card, state, kind, balance, today):
        """Balance, state and validity of ``card`` (in ``state`` before) after a movement of ``kind``."""
        if kind == "expire":
            new_state = "expired"
        elif state == "blocked":
            new_state = state
        elif card.currency_id.is_zero(balance):
            new_state = "used" if state != "inactive" or kind != "adjust" else state
        elif state in ("inactive", "used") and kind in ("load", "refund", "adjust"):
            new_state = "active"
        else:
            new_state = state
        values = {"balance": balance, "state": new_state}
        if state == "inactive" and new_state == "active":
            # activation (a sale, a load, a correcting adjustment): the validity starts today
            activation_expiry = card.club_id._gift_card_default_expiry(today)
            if not card.date_expiry or card.date_expiry < activation_expiry:
                values["date_expiry"] = activation_expiry
        return values

    @api.model
    def _audit_gift_cards(self, cards=None):
        """Gift cards whose stored balance differs from the sum of their entries: {id: (stored, sum)}."""
        self.env.flush_all()
        where = "WHERE c.id = ANY(%s)" if cards is not None else ""
        self.env.cr.execute(
            f"""SELECT c.id, c.balance, COALESCE(s.total, 0)
                 FROM loyalty_club_gift_card c
            LEFT JOIN (SELECT gift_card_id, SUM(amount) AS total
                         FROM loyalty_club_gift_card_entry GROUP BY gift_card_id) s ON s.gift_card_id = c.id
                {where}""",
            [cards.ids] if cards is not None else [],
        )
        return {card_id: (stored, total) for card_id, stored, total in self.env.cr.fetchall() if stored != total}
