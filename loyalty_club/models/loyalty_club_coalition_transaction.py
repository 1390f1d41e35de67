import re

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..tools import posting_keys

TRANSACTION_KINDS = [("redeem", "Points redeemed"), ("earn", "Points earned")]
TRANSACTION_STATES = [("done", "Booked"), ("cancelled", "Cancelled")]
# The uuid of one form submission (hidden field of the partner page).
REQUEST_UUID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


class LoyaltyClubCoalitionTransaction(models.Model):
    """One redemption or earning of a member's points at a coalition partner, booked exactly once
    per form submission (``request_uuid``, unique) with its ledger entry (the transaction is the
    entry's origin). Written by the server only; the monthly settlement takes each one once."""

    _name = "loyalty.club.coalition.transaction"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Coalition Partner Transaction"
    _order = "date desc, id desc"
    _check_company_auto = True

    coalition_partner_id = fields.Many2one(
        "loyalty.club.coalition.partner", "Partner", required=True, index=True, ondelete="restrict", readonly=True
    )
    club_id = fields.Many2one("loyalty.club", required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id", readonly=True)
    card_id = fields.Many2one(
        "loyalty.club.card", "Member card", required=True, index=True, ondelete="restrict", readonly=True
    )
    member_id = fields.Many2one("res.partner", "Club member", required=True, readonly=True, index=True)
    kind = fields.Selection(TRANSACTION_KINDS, required=True, readonly=True)
    points = fields.Integer(required=True, readonly=True, help="Points redeemed or earned (positive).")
    purchase_amount = fields.Monetary("Purchase", readonly=True, help="Amount of the purchase at the partner.")
    value = fields.Monetary(
        readonly=True, help="The points at the partner's rate when it happened: what the settlement counts."
    )
    user_id = fields.Many2one("res.users", "Partner user", required=True, readonly=True)
    date = fields.Datetime(required=True, readonly=True, index=True)
    request_uuid = fields.Char("Form submission", required=True, readonly=True, copy=False)
    entry_id = fields.Many2one("loyalty.club.entry", "Ledger entry", readonly=True, index="btree_not_null")
    settlement_id = fields.Many2one(
        "loyalty.club.coalition.settlement", "Settled by", readonly=True, index="btree_not_null", ondelete="restrict"
    )
    state = fields.Selection(TRANSACTION_STATES, required=True, readonly=True, default="done", copy=False)
    cancel_entry_id = fields.Many2one(
        "loyalty.club.entry",
        "Undone by",
        readonly=True,
        copy=False,
        help="The ledger entry that gave back the points redeemed, or took back the points earned.",
    )

    _sql_constraints = [
        ("request_unique", "unique(request_uuid)", "This form was already submitted."),
        ("points_positive", "CHECK(points > 0)", "A partner transaction moves at least one point."),
    ]

    def init(self):
        """A settled transaction stays with its settlement: the database refuses to move it."""
        self.env.cr.execute("""
            CREATE OR REPLACE FUNCTION loyalty_club_coalition_settled_once() RETURNS trigger AS $$
            BEGIN
                IF OLD.settlement_id IS NOT NULL AND NEW.settlement_id IS DISTINCT FROM OLD.settlement_id THEN
                    RAISE EXCEPTION 'loyalty_club: coalition transaction % is already settled', OLD.id
                        USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS loyalty_club_coalition_settled_once ON loyalty_club_coalition_transaction;
            CREATE TRIGGER loyalty_club_coalition_settled_once
                BEFORE UPDATE OF settlement_id ON loyalty_club_coalition_transaction
                FOR EACH ROW EXECUTE FUNCTION loyalty_club_coalition_settled_once();
        """)

    @api.depends("coalition_partner_id", "kind", "points")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for transaction in self:
            transaction.display_name = self.env._(
                "%(partner)s: %(kind)s %(points)s",
                partner=transaction.coalition_partner_id.sudo().name or "",
                kind=kinds.get(transaction.kind, ""),
                points=transaction.points,
            )

    # ------------------------------------------------------------------
    # Booking (server only; the partner page calls these after its own checks)
    # ------------------------------------------------------------------
    @api.model
    def _check_request_uuid(self, request_uuid):
        if not isinstance(request_uuid, str) or not REQUEST_UUID.match(request_uuid):
            raise ValidationError(self.env._("This form is not valid any more: open the partner page again."))
        return request_uuid

    @api.model
    def _submitted(self, coalition, request_uuid):
        """The transaction booked by the form submission ``request_uuid`` at ``coalition``, if any.

        :raises UserError: the submission belongs to another partner
        """
        existing = self.sudo().search([("request_uuid", "=", request_uuid)], limit=1)
        if existing and existing.coalition_partner_id != coalition:
            raise UserError(self.env._("This form was already submitted."))
        return existing

    @api.model
    def _book(self, coalition, card, kind, points, purchase_amount, request_uuid):
        """Book ``points`` of ``kind`` (``redeem`` or ``earn``) on ``card`` at ``coalition`` for the
        form submission ``request_uuid``, exactly once: the card row is locked first, a submission
        seen before returns its transaction, and the transaction and its ledger entry are created
        together (the posting key comes from the transaction).

        A redemption spends only the available points (balance less pending points and points held
        at tills, checked under the card's lock by the posting service) and at least the club's
        minimum, and is worth at most the purchase.

        :returns: the ``loyalty.club.coalition.transaction`` (sudo)
        :raises UserError: card not usable, not enough points, worth more than the purchase
        :raises ValidationError: malformed points, amount or submission
        """
        coalition.ensure_one()
        card.ensure_one()
        coalition, card = coalition.sudo(), card.sudo()
        request_uuid = self._check_request_uuid(request_uuid)
        if kind not in dict(TRANSACTION_KINDS):
            raise ValidationError(self.env._("Unknown kind of partner transaction: %s", kind))
        if card.club_id != coalition.club_id:
            raise UserError(card._uniform_auth_error().args[0])
        currency = coalition.currency_id
        purchase_amount = self._check_amount(purchase_amount, currency)
        Posting = self.env["loyalty.club.posting"]
        # Two submissions of one form, or a till and a partner spending one card, meet here: the
        # second waits for the first and, once it commits, fails to serialize and is replayed.
        Posting._lock_rows(card)
        existing = self._submitted(coalition, request_uuid)
        if existing:
            if (existing.card_id, existing.kind) != (card, kind):
                raise UserError(self.env._("This form was already submitted."))
            return existing
        if kind == "earn":
            if not coalition.allow_earning:
                raise UserError(self.env._("Members do not earn club points at %s.", coalition.name))
            points = coalition._points_for_purchase(purchase_amount)
            if points <= 0:
                raise UserError(self.env._("This purchase is too small to earn points."))
        else:
            points = self._check_points(points)
            self._check_redemption(coalition, card, points, purchase_amount)
        return self._create_with_entry(coalition, card, kind, points, purchase_amount, request_uuid)

    @api.model
    def _create_with_entry(self, coalition, card, kind, points, purchase_amount, request_uuid):
        """The transaction and its ledger entry, together or neither (called by :meth:`_book`
        under the card lock, once the points are checked)."""
        Posting = self.env["loyalty.club.posting"]
        values = {
            "coalition_partner_id": coalition.id,
            "club_id": coalition.club_id.id,
            "company_id": coalition.company_id.id,
            "card_id": card.id,
            "member_id": card.partner_id.id,
            "kind": kind,
            "points": points,
            "purchase_amount": purchase_amount,
            "value": coalition._value_of(points),
            "user_id": self.env.uid,
            "date": fields.Datetime.now(),
            "request_uuid": request_uuid,
        }
        reason = (
            self.env._("Redeemed at %s", coalition.name)
            if kind == "redeem"
            else self.env._("Earned at %s", coalition.name)
        )
        with self.env.cr.savepoint():
            try:
                with self.env.cr.savepoint():
                    transaction = self.sudo().create(values)
            except psycopg2.errors.UniqueViolation as error:
                # the same submission with another card, booked meanwhile by another request
                raise UserError(self.env._("This form was already submitted.")) from error
            entry = Posting._post(
                card,
                -points if kind == "redeem" else points,
                kind,
                posting_keys.record(transaction, kind),
                origin=transaction,
                reason=reason,
                branch=coalition.company_id,
            )
            transaction.entry_id = entry
            transaction.flush_recordset()
        return transaction

    def action_cancel(self):
        """Undo these transactions (club managers), e.g. a redemption a partner's cashier booked
        by mistake: the points redeemed go back to the member's card (to the lots they came
        from), the points earned are taken back (by the club's negative-balance policy), and the
        transaction is left out of its month's settlement. Once per transaction. A settled
        transaction is not undone: its month is billed, correct it with the partner."""
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise AccessError(self.env._("Only club managers can undo partner transactions."))
        self.check_access("read")
        self.sudo()._cancel()
        return True

    def _cancel(self):
        """Undo these transactions (server side of :meth:`action_cancel`), each under its partner's
        row lock, which the settlement takes too: a month is settled before or after, never during."""
        Posting = self.env["loyalty.club.posting"]
        for transaction in self:
            Posting._lock_rows(transaction.coalition_partner_id)
            Posting._lock_rows(transaction)
            if transaction.state == "cancelled":
                continue
            if transaction.settlement_id:
                raise UserError(
                    self.env._(
                        "%(transaction)s is settled in %(settlement)s and cannot be undone: correct it with "
                        "the partner and adjust the member's points.",
                        transaction=transaction.display_name,
                        settlement=transaction.settlement_id.name,
                    )
                )
            transaction._undo_entry()

    def _undo_entry(self):
        """Post the entry that undoes this transaction's ledger entry and mark it cancelled."""
        self.ensure_one()
        Posting = self.env["loyalty.club.posting"]
        entry = self.entry_id
        values = {
            "origin": self,
            "branch": self.company_id,
            "reason": self.env._("%s undone", self.display_name),
        }
        key = posting_keys.reversal_of(entry)
        if self.kind == "redeem":
            card = entry.card_id._active_successor()
            undo = Posting._post(card, -entry.points, "reverse", key, reversed_entry=entry, **values)
        else:
            undo, _shortfall = Posting._post_document_reversal(entry, entry.points, key, **values)
        self.write({"state": "cancelled", "cancel_entry_id": undo.id})

    @api.model
    def _check_points(self, points):
        if isinstance(points, str) and points.strip().isdigit():
            points = int(points.strip())
        if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            raise ValidationError(self.env._("Enter a whole, positive number of points."))
        return points

    @api.model
    def _check_amount(self, amount, currency):
        """A purchase amount typed on the partner page (text or number), rounded to ``currency``."""
        if isinstance(amount, str):
            try:
                amount = float(amount.strip().replace(",", "")) if amount.strip() else 0.0
            except ValueError as error:
                raise ValidationError(self.env._("Enter the amount of the purchase.")) from error
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount != amount:
            raise ValidationError(self.env._("Enter the amount of the purchase."))
        if amount in (float("inf"), float("-inf")) or amount > 1e15:
            raise ValidationError(self.env._("Enter the amount of the purchase."))
        amount = currency.round(amount)
        if currency.compare_amounts(amount, 0) <= 0:
            raise ValidationError(self.env._("Enter the amount of the purchase."))
        return amount

    @api.model
    def _check_redemption(self, coalition, card, points, purchase_amount):
        """Refuse a redemption below the club's minimum, beyond the available points or worth more
        than the purchase (the posting service checks the balance again under the lock)."""
        club = coalition.club_id
        card.invalidate_recordset(["points_held", "points_available"])
        available = card.points_available
        fmt = self.env["loyalty.club"]._format_points
        if available < club.redeem_min_points:
            raise UserError(
                self.env._(
                    "Card %(card)s needs at least %(minimum)s points before they can be used.",
                    card=card._masked_number(),
                    minimum=fmt(club.redeem_min_points),
                )
            )
        if points > available:
            raise UserError(
                self.env._(
                    "Not enough points on card %(card)s: %(available)s can be spent.",
                    card=card._masked_number(),
                    available=fmt(max(available, 0)),
                )
            )
        currency = coalition.currency_id
        if currency.compare_amounts(coalition._value_of(points), purchase_amount) > 0:
            raise UserError(
                self.env._(
                    "%(points)s points are worth more than the purchase: at most %(most)s points can pay for it.",
                    points=fmt(points),
                    most=fmt(coalition._points_worth(purchase_amount)),
                )
            )
