import functools
import math
import numbers
from contextlib import contextmanager

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..tools import posting_keys

MAX_POINTS_PER_POSTING = 100_000_000
# "opening": the balance a member brought from another system (import, migration).
CREDIT_KINDS = {"earn", "bonus", "opening"}
DEBIT_KINDS = {"redeem", "expire"}
SIGNED_KINDS = {"adjust", "reverse", "transfer"}
# Kinds that need an active card; corrections (adjust, reverse, transfer, expire) do not.
ACTIVE_CARD_KINDS = {"earn", "bonus", "redeem"}
# An opening balance counts for tiers like points earned on the day it is booked.
QUALIFYING_KINDS = {"earn", "bonus", "opening"}
# Debits whose consumed lots are recorded (loyalty.club.lot.consumption), so that points given
# back later return to those lots; expiries and transfers empty a lot they name themselves.
CONSUMPTION_KINDS = {"redeem", "reverse", "adjust"}


@contextmanager
def _failures_not_logged(cr):
    """Run the ORM's queries on ``cr`` without logging the ones that fail (they still raise)."""
    execute = cr.execute
    cr.execute = functools.partial(execute, log_exceptions=False)
    try:
        yield
    finally:
        del cr.execute


class _LockedQuery:
    """An ORM :class:`~odoo.tools.query.Query` of records, selected ``FOR UPDATE`` of their own
    table in id order (the ORM fetches through it as through any query)."""

    def __init__(self, query):
        self._query = query
        query.order = SQL.identifier(query.table, "id")

    def select(self, *args):
        return SQL("%s FOR UPDATE OF %s", self._query.select(*args), SQL.identifier(self._query.table))

    def __getattr__(self, name):
        return getattr(self._query, name)


class LoyaltyClubPosting(models.AbstractModel):
    """The posting service: the only code that changes point balances.

    Every channel (sales, POS, wizards, crons) calls :meth:`_post`; it locks the card row,
    makes the posting exactly-once by its key, refuses overdrafts, keeps the FIFO lots and
    the stored balance in step with the ledger, and upgrades the tier when earned.
    """

    _name = "loyalty.club.posting"
    _description = "Club Posting Service"

    @api.model
    def _make_key(self, origin, kind, line=None):
        """Posting key ``model:id:line:kind`` for an origin record (line: any sub-identifier)."""
        origin.ensure_one()
        return posting_keys.record(origin, kind, line)

    @api.model
    def _check_points(self, points, kind):
        if kind not in dict(self.env["loyalty.club.entry"]._fields["kind"].selection):
            raise ValidationError(self.env._("Unknown kind of ledger entry: %s", kind))
        if isinstance(points, bool) or not isinstance(points, numbers.Real):
            raise ValidationError(self.env._("Points must be a whole number."))
        if isinstance(points, float) and (math.isnan(points) or math.isinf(points)):
            raise ValidationError(self.env._("Points must be a whole number."))
        if int(points) != points:
            raise ValidationError(self.env._("Points must be a whole number, not %s.", points))
        points = int(points)
        if not points:
            raise ValidationError(self.env._("A posting must move at least one point."))
        if abs(points) > MAX_POINTS_PER_POSTING:
            raise ValidationError(
                self.env._(
                    "%(points)s points is more than one posting may move (%(max)s).",
                    points=points,
                    max=MAX_POINTS_PER_POSTING,
                )
            )
        if kind in CREDIT_KINDS and points < 0:
            raise ValidationError(self.env._("Points of this kind must be positive."))
        if kind in DEBIT_KINDS and points > 0:
            raise ValidationError(self.env._("Points of this kind must be negative."))
        return points

    @api.model
    def _check_posting_keys(self, keys):
        """Refuse a posting without a key (each of ``keys`` must be a non-blank string)."""
        if any(not isinstance(key, str) or not key.strip() for key in keys):
            raise ValidationError(self.env._("A posting needs a key."))

    @api.model
    def _lock_rows(self, records):
        """Lock the rows of ``records`` (any model with a table; in id order, to avoid deadlocks)
        for the rest of the transaction, and refresh their cached values from the locked rows.

        One statement: the ORM's own fetch of the prefetched fields, selected ``FOR UPDATE``, so
        what the caller reads next (state, balance...) is current and costs no other query. A row
        changed by a concurrent transaction since this one began raises a serialization failure,
        which Odoo's request retry handles; it is not logged as a "bad query" error.
        """
        records.invalidate_recordset()
        names = [
            name
            for name, field in records._fields.items()
            if field.store and field.column_type and field.prefetch is True and field.is_accessible(records.env)
        ]
        fields_to_fetch = records._determine_fields_to_fetch(names)
        with _failures_not_logged(self.env.cr):
            records._fetch_query(_LockedQuery(records._as_query(ordered=False)), fields_to_fetch)

    @api.model
    def _post(
        self,
        card,
        points,
        kind,
        posting_key,
        *,
        origin=None,
        reason=None,
        branch=None,
        pos_config=None,
        amount=0.0,
        purchase_count=0,
        reversed_entry=None,
        lot=None,
        expiry_date=None,
        pending_until=None,
        allow_negative=False,
        date=None,
        holds=None,
        valid_at=None,
    ):
        """Post ``points`` (signed int) of ``kind`` on ``card`` exactly once per ``posting_key``.

        :param card: ``loyalty.club.card`` record
        :param origin: record the movement comes from (sale order, POS order, wizard...)
        :param branch: company/branch where it happened (default: the current company)
        :param amount: qualifying spend behind the entry (signed), used by tier metrics
        :param purchase_count: +1 for a purchase, -1 when a purchase is undone
        :param reversed_entry: the entry this one corrects; a credit correcting a debit (points
            given back by a cancelled or refunded redemption) returns the points to the lots the
            debit took them from, with their own expiry, and never gives back more than was taken
        :param lot: credit entry to consume first (a reversal takes back its own lot first)
        :param expiry_date: expiry of a credit (default: the club's rule; False = never)
        :param pending_until: end of the pending period of a credit (default: the club's pending
            period for an ``earn``, none otherwise; False = none)
        :param allow_negative: let the balance go below zero (reversals of spent points)
        :param holds: the ``loyalty.club.hold`` records this redemption captures: while they are
            live the points were set aside when the PIN was checked, so the capture neither
            needs an active card nor fails for lack of balance (a lot that expired in between
            leaves a debt); other redemptions can only spend the balance less the live holds
        :param valid_at: datetime at which an earning or bonus judges the card (a POS order is
            judged at its order time: a card that expired since still earns; default now)
        :returns: the ``loyalty.club.entry``, the existing one when the key was posted before
        :raises UserError: not enough points (a redemption spends only the card's spendable
            points: :meth:`loyalty.club.card._loyalty_spendable_points`), card not usable
        :raises ValidationError: malformed points, kind or key; a key already used for a
            different movement; a correction going the same way as the entry it corrects; a
            give-back beyond what the debit took
        """
        card.ensure_one()
        points = self._check_points(points, kind)
        self._check_posting_keys([posting_key])
        card = card.sudo()
        self._lock_rows(card)
        existing, captured = self._posted_or_checked(card, points, kind, posting_key, reversed_entry, holds, valid_at)
        if existing:
            return existing.sudo(self.env.su)
        now = date or fields.Datetime.now()
        self._prepare_debit(card, points, kind, now, holds, allow_negative or captured)
        values = self._entry_values(card, kind, points, posting_key, now, origin=origin, branch=branch, reason=reason)
        values.update(
            {
                "pos_config_id": pos_config.id if pos_config else False,
                "reversed_entry_id": reversed_entry.id if reversed_entry else False,
                "lot_id": lot.id if lot and kind == "expire" else False,
                "amount": card.company_id.currency_id.round(amount or 0.0),
                "purchase_count": purchase_count,
                "qualifying": kind in QUALIFYING_KINDS or bool(reversed_entry and reversed_entry.qualifying),
            }
        )
        entry = self._insert_posting(card, values, lot, reversed_entry, expiry_date, pending_until)
        if not entry:
            # the key was posted before (a retried sync, a double click): nothing happens again
            return self._posted_before(card, points, kind, posting_key).sudo(self.env.su)
        self._after_post(card, entry, values["qualifying"], purchase_count, reversed_entry)
        return entry.sudo(self.env.su)

    @api.model
    def _posted_or_checked(self, card, points, kind, posting_key, reversed_entry, holds, valid_at):
        """``(existing, captures_live_holds)``: the entry posted before with the key, or checks that
        the posting may go on the locked ``card`` (a correction within bounds, an active card)."""
        corrected = reversed_entry.sudo() if reversed_entry else None
        # A debit consumes lots before its entry exists, a give-back restores lots, a correction
        # is bounded by the earlier ones: their key is checked first. Another credit changes
        # nothing before its entry: the insert itself checks the key (ON CONFLICT).
        existing = self._posted_before(card, points, kind, posting_key) if points < 0 or corrected else None
        if existing:
            return existing, False
        if corrected and (points > 0) == (corrected.points > 0):
            self._check_restoration(corrected, points)
        captures_live_holds = bool(holds) and kind == "redeem" and all(hold._is_live() for hold in holds)
        if kind in ACTIVE_CARD_KINDS and not captures_live_holds and not card._active_at(valid_at):
            return self._posted_before_inactive(card, points, kind, posting_key), False
        return None, captures_live_holds

    @api.model
    def _insert_posting(self, card, values, lot, reversed_entry, expiry_date, pending_until):
        """Insert the entry ``values`` on the locked ``card`` with its lots: a credit repays a debt
        then makes a lot (a give-back, correcting a debit, restores the debit's lots), a debit
        consumes lots (``lot`` first). Empty when the insert finds the key posted before."""
        points, kind, now = values["points"], values["kind"], values["date"]
        taken, restores = [], []
        if points > 0:
            give_back = bool(reversed_entry and reversed_entry.sudo().points < 0)
            debit = reversed_entry if give_back else None
            lot_values, restores = self._credit_lot_values(
                card, points, kind, card.balance, now, debit, expiry_date, pending_until
            )
            values.update(lot_values)
        else:
            values["points_remaining"] = 0
            taken = self._consume_lots(card, -points, first_lot=lot, when=now, include_pending=kind != "redeem")
        entry = self._insert_entries([values]).get(values["posting_key"], self.env["loyalty.club.entry"].sudo())
        if not entry:
            return entry
        if taken and kind in CONSUMPTION_KINDS:
            self._record_consumption(entry, taken)
        if restores:
            self._restore_lots(restores)
        return entry

    @api.model
    def _posted_before_inactive(self, card, points, kind, posting_key):
        """The entry a retry finds posted before the locked ``card`` stopped being active; else refused."""
        existing = self._posted_before(card, points, kind, posting_key) if points > 0 else None
        if existing:
            return existing  # a retry, after the card was blocked
        raise UserError(self.env._("Card %s is not active.", card.number))

    @api.model
    def _prepare_debit(self, card, points, kind, now, holds, unchecked):
        """Before a debit of the locked ``card``: expire its due lots and refuse what it cannot pay."""
        if points < 0 and kind != "expire":
            self._expire_card_lots(card, now)
        if points < 0 and not unchecked:
            held = 0
            if kind == "redeem":
                held = self.env["loyalty.club.hold"]._held("card_id", [card.id], exclude=holds).get(card.id, 0)
            self._check_debit(card, points, kind, now, held=held)

    @api.model
    def _after_post(self, card, entry, qualifying, purchase_count, reversed_entry):
        """What follows a new entry on the locked ``card``: the tier upgrade and the purchase hooks."""
        if qualifying and entry.points > 0 and entry.kind != "opening":
            # an opening balance does not "upgrade" (nor message) a member: the import or
            # migration that books it sets the tier it brought or qualifies for
            card._upgrade_tier_if_qualified()
        if entry.kind == "earn" and purchase_count > 0:
            self._after_purchase(card, entry)
        elif entry.kind == "reverse" and purchase_count < 0 and reversed_entry and reversed_entry.kind == "earn":
            self._after_purchase_undone(reversed_entry)

    @api.model
    def _credit_lot_values(self, card, points, kind, balance, now, debit, expiry_date, pending_until):
        """Lot columns of a credit of ``points`` on the locked ``card`` (``balance`` before it):
        a debt is repaid first, the rest is a lot with its expiry and pending period. A give-back
        (``debit``: the debit entry it corrects) returns its points to the debit's lots instead.

        :returns: ``(values, restores)``: the entry's ``points_remaining``, ``expiry_date`` and
            ``pending_until``, and the give-back plan (see :meth:`_give_back_plan`)
        """
        to_lots = max(0, points - max(0, -balance))
        restores = {}
        if debit:
            restores, to_lots, expiry_date, pending_until = self._give_back_plan(
                card, points, debit.sudo(), to_lots, expiry_date
            )
        if expiry_date is None:
            expiry_date = card.club_id._expiry_date_from(fields.Date.to_date(now))
        if pending_until is None:
            pending_until = card.club_id._pending_until_from(now) if kind == "earn" else False
        values = {
            "points_remaining": to_lots,
            "expiry_date": (expiry_date or False) if to_lots or not debit else False,
            "pending_until": (pending_until or False) if to_lots else False,
        }
        return values, restores

    @api.model
    def _check_debit(self, card, points, kind, when, held=0):
        """Refuse a debit of ``points`` (< 0) the locked ``card`` cannot pay: a redemption spends
        only the card's spendable points (:meth:`loyalty.club.card._loyalty_spendable_points`)
        less the ``held`` points of live till holds, other debits the balance."""
        balance = card.balance
        fmt = self.env["loyalty.club"]._format_points
        if kind == "redeem":
            spendable = card._loyalty_spendable_points(when)
            if spendable < balance and spendable - held + points < 0:
                raise UserError(
                    self.env._(
                        "Not enough points on card %(card)s: %(spendable)s of its %(balance)s points can be "
                        "spent now (points of recent purchases are pending for %(days)s days); %(needed)s are "
                        "needed.",
                        card=card.number,
                        spendable=fmt(max(spendable - held, 0)),
                        balance=fmt(balance),
                        days=card.club_id.pending_days,
                        needed=fmt(-points),
                    )
                )
        if held and balance - held + points < 0:
            raise UserError(
                self.env._(
                    "Not enough points on card %(card)s: the balance is %(balance)s (%(held)s held for "
                    "payments at a till), %(needed)s are needed.",
                    card=card.number,
                    balance=fmt(balance),
                    held=fmt(held),
                    needed=fmt(-points),
                )
            )
        if balance + points < 0:
            raise UserError(
                self.env._(
                    "Not enough points on card %(card)s: the balance is %(balance)s, %(needed)s are needed.",
                    card=card.number,
                    balance=fmt(balance),
                    needed=fmt(-points),
                )
            )

    @api.model
    def _check_restoration(self, reversed_entry, points):
        """Refuse a correction of ``reversed_entry`` that goes the same way as the entry (a
        restoration: a credit note reset to draft gives back what it took) beyond what the earlier
        corrections took the other way: the corrections of an entry, together, never go its way."""
        self.env["loyalty.club.entry"].flush_model(["points", "reversed_entry_id"])
        self.env.cr.execute(
            "SELECT COALESCE(SUM(points), 0) FROM loyalty_club_entry WHERE reversed_entry_id = %s",
            [reversed_entry.id],
        )
        corrected = self.env.cr.fetchone()[0]
        if (corrected + points) * (1 if reversed_entry.points > 0 else -1) > 0:
            raise ValidationError(
                self.env._(
                    "A correction must move points the other way than the entry it corrects, or give back "
                    "at most what the earlier corrections took (%(taken)s points).",
                    taken=abs(corrected),
                )
            )

    @api.model
    def _posted_before(self, card, points, kind, posting_key):
        """The entry already posted with ``posting_key`` (empty if none); a key used for another
        movement is refused."""
        existing = self.env["loyalty.club.entry"].sudo().search([("posting_key", "=", posting_key)], limit=1)
        if existing:
            self._check_replay(existing, card, points, kind, posting_key)
        return existing

    @api.model
    def _check_replay(self, existing, card, points, kind, posting_key):
        """Refuse a replay of ``posting_key`` whose ``existing`` entry is another movement."""
        if (existing.card_id, existing.points, existing.kind) != (card, points, kind):
            raise ValidationError(
                self.env._(
                    "The posting key %(key)s was already used for another movement "
                    "(%(kind)s %(points)s on card %(card)s).",
                    key=posting_key,
                    kind=existing.kind,
                    points=existing.points,
                    card=existing.card_id.number,
                )
            )

    # ------------------------------------------------------------------
    # Purchase hooks: what follows a purchase lives with its own subject (messages, bonus rules,
    # tiers), which extends these hooks with _inherit; the posting service calls nothing above it.
    # ------------------------------------------------------------------
    @api.model
    def _after_purchase(self, card, entry):
        """Hook run once per purchase (an ``earn`` with ``purchase_count > 0``), by every channel,
        after the entry is posted on ``card`` under its lock. Extensions call ``super()`` first;
        what they post (bonuses: kind ``bonus``, no purchase count) does not run the hook again.
        Extended by messages (points earned), bonus rules (visit, mission, n-th purchase, referral)
        and tiers (the referrer's upgrade)."""

    @api.model
    def _after_purchase_undone(self, earn_entry):
        """Hook run when a purchase is cancelled or fully refunded (a ``reverse`` of its ``earn``
        ``earn_entry`` with ``purchase_count < 0``), idempotent. Extended by messages (queued ones
        cancelled) and bonus rules (the bonuses it gave taken back)."""

    @api.model
    def _post_reversal(self, card, points, posting_key, reversed_entry, **values):
        """Take back ``points`` (> 0) credited by ``reversed_entry``, once per ``posting_key``,
        following the club's negative-balance policy, on ``card``: the entry's card or its active
        successor (a lost card replaced since).

        ``allow``: the balance may go negative (a debt repaid by later earnings). ``partial``:
        take back only what the balance still holds. Other ``values`` go to :meth:`_post`.

        :returns: ``(entry, shortfall)``: the reversal entry (empty when nothing could be taken
            back) and the points not taken back
        """
        card.ensure_one()
        card = card.sudo()
        self._lock_rows(card)
        existing = self.env["loyalty.club.entry"].sudo().search([("posting_key", "=", posting_key)], limit=1)
        if existing:
            return existing, 0
        points = self._check_points(points, "earn")  # a whole, positive number of points
        reversed_entry.ensure_one()
        # a replaced card's credits moved to its successor: the reversal takes them back there
        if (
            card not in (reversed_entry.card_id, reversed_entry.card_id._active_successor())
            or reversed_entry.points <= 0
        ):
            raise ValidationError(self.env._("A reversal must take back a credit of the same card."))
        already = self._taken_back(reversed_entry)
        if points > reversed_entry.points - already:
            raise ValidationError(
                self.env._(
                    "Cannot take back %(points)s points: the entry credited %(credited)s and %(reversed)s "
                    "were already taken back.",
                    points=points,
                    credited=reversed_entry.points,
                    reversed=already,
                )
            )
        allow_negative = card.club_id.negative_balance_policy == "allow"
        taken = points if allow_negative else min(points, max(card.balance, 0))
        if not taken:
            if values.get("purchase_count", 0) < 0 and reversed_entry.kind == "earn":
                self._after_purchase_undone(reversed_entry)
            return self.env["loyalty.club.entry"], points
        # on a successor, the lot that carries the entry's points since the replacement goes first
        lot = reversed_entry if card == reversed_entry.card_id else self._carrying_lot(reversed_entry, card)
        entry = self._post(
            card,
            -taken,
            "reverse",
            posting_key,
            reversed_entry=reversed_entry,
            lot=lot or None,
            allow_negative=allow_negative,
            **values,
        )
        return entry, points - taken

    @api.model
    def _audit_balances(self, cards=None, batch_size=100000):
        """Cards whose stored balance differs from the sum of their entries: {card_id: (stored, sum)}.

        Read-only; the whole club is audited in ranges of ``batch_size`` card ids, each range
        summing only its own cards' entries (index on the card), so memory stays flat and a
        check of a few cards reads only their entries.
        """
        self.env.flush_all()
        cr = self.env.cr
        query = """SELECT c.id, c.balance, COALESCE(s.total, 0)
                     FROM loyalty_club_card c
                LEFT JOIN (SELECT card_id, SUM(points) AS total FROM loyalty_club_entry
                            WHERE %(entries)s GROUP BY card_id) s ON s.card_id = c.id
                    WHERE %(cards)s"""
        result = {}
        if cards is not None:
            cr.execute(SQL(query, entries=SQL("card_id = ANY(%s)", cards.ids), cards=SQL("c.id = ANY(%s)", cards.ids)))
            rows = cr.fetchall()
        else:
            cr.execute("SELECT min(id), max(id) FROM loyalty_club_card")
            low, high = cr.fetchone()
            rows = []
            for first in range(low or 0, (high or -1) + 1, batch_size):
                last = first + batch_size - 1
                cr.execute(
                    SQL(
                        query,
                        entries=SQL("card_id BETWEEN %s AND %s", first, last),
                        cards=SQL("c.id BETWEEN %s AND %s", first, last),
                    )
                )
                rows += [row for row in cr.fetchall() if row[1] != row[2]]
        result.update({card_id: (stored, total) for card_id, stored, total in rows if stored != total})
        return result
