from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools import posting_keys


class LoyaltyClubPosting(models.AbstractModel):
    """The posting service's lots: what debits consume (FIFO), what give-backs restore, what expires."""

    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _consume_lots(self, card, points, first_lot=None, when=None, include_pending=True):
        """Take ``points`` from the card's open credit lots, ``first_lot`` first, then oldest first;
        lots still pending at ``when`` (default now) last, or not at all (``include_pending``
        False: a redemption spends only spendable points).

        Reads at most ``points`` lots per group (each open lot holds at least one point) in the
        order of the open-lots index (skipping the few pending lots), so a card with a million open
        lots costs what a small card costs.

        :returns: ``[(lot id, points taken)]`` in the order they were taken
        """
        when = when or fields.Datetime.now()
        pending = SQL(
            """UNION ALL
                 (SELECT id, points_remaining, 2, expiry_date FROM loyalty_club_entry
                     WHERE card_id = %(card)s AND points_remaining > 0 AND id <> %(first)s
                       AND pending_until > %(when)s
                  ORDER BY expiry_date ASC NULLS LAST, id ASC
                     LIMIT %(limit)s)""",
            card=card.id,
            first=first_lot.id if first_lot else 0,
            when=when,
            limit=points,
        )
        self.env.cr.execute(
            SQL(
                """(SELECT id, points_remaining, 0 AS rank, expiry_date FROM loyalty_club_entry
                     WHERE id = %(first)s AND card_id = %(card)s AND points_remaining > 0)
                 UNION ALL
                 (SELECT id, points_remaining, 1, expiry_date FROM loyalty_club_entry
                     WHERE card_id = %(card)s AND points_remaining > 0 AND id <> %(first)s
                       AND (pending_until IS NULL OR pending_until <= %(when)s)
                  ORDER BY expiry_date ASC NULLS LAST, id ASC
                     LIMIT %(limit)s)
                 %(pending)s
                 ORDER BY rank, expiry_date ASC NULLS LAST, id ASC""",
                card=card.id,
                first=first_lot.id if first_lot else 0,
                when=when,
                limit=points,
                pending=pending if include_pending else SQL(""),
            )
        )
        taken = []
        left = points
        for lot_id, remaining, _rank, _expiry in self.env.cr.fetchall():
            if left <= 0:
                break
            take = min(left, remaining)
            taken.append((lot_id, take))
            left -= take
        if taken:
            self.env.cr.execute(
                SQL(
                    """UPDATE loyalty_club_entry e SET points_remaining = e.points_remaining - t.take
                     FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::int[]) AS take) t
                    WHERE e.id = t.id""",
                    [lot_id for lot_id, _take in taken],
                    [take for _lot, take in taken],
                )
            )
            self.env["loyalty.club.entry"].invalidate_model(["points_remaining"])
        return taken

    @api.model
    def _record_consumption(self, debit, taken):
        """Remember which lots the debit entry ``debit`` took its points from (``taken``:
        ``[(lot id, points)]``), one set-based insert, so a give-back can return them there."""
        self.env.cr.execute(
            SQL(
                """INSERT INTO loyalty_club_lot_consumption
                          (debit_entry_id, lot_id, company_id, points, points_returned)
                   SELECT %s, t.lot_id, %s, t.points, 0
                     FROM unnest(%s::int[], %s::int[]) AS t(lot_id, points)""",
                debit.id,
                debit.company_id.id,
                [lot_id for lot_id, _points in taken],
                [points for _lot_id, points in taken],
            )
        )

    @api.model
    def _check_give_back(self, card, points, debit):
        """A credit of ``points`` correcting the debit entry ``debit`` (points given back) goes to
        the debit's card or a card that replaced it, and with the earlier give-backs of ``debit``
        never gives back more than it took."""
        chain, seen = debit.card_id, set()
        while chain and chain != card and chain.id not in seen:
            seen.add(chain.id)
            chain = chain.replaced_by_id
        if chain != card:
            raise ValidationError(
                self.env._(
                    "Points taken from card %(debit_card)s go back to that card or the card that replaced it, "
                    "not to card %(card)s.",
                    debit_card=debit.card_id.number,
                    card=card.number,
                )
            )
        [(given,)] = (
            self.env["loyalty.club.entry"]
            .sudo()
            ._read_group([("reversed_entry_id", "=", debit.id), ("points", ">", 0)], aggregates=["points:sum"])
        )
        given = given or 0
        if points > -debit.points - given:
            raise ValidationError(
                self.env._(
                    "Cannot give back %(points)s points: the entry took %(taken)s and %(given)s were already "
                    "given back.",
                    points=points,
                    taken=-debit.points,
                    given=given,
                )
            )

    @api.model
    def _give_back_plan(self, card, points, debit, to_lots, expiry_date):
        """Where the points given back by a credit correcting the debit entry ``debit`` go: back to
        the lots the debit took them from (last taken, first given back), with their own expiry
        and pending period. Of ``points``, ``to_lots`` are left after repaying a debt.

        A lot of another card (the debit happened on a card since replaced) cannot take them back:
        those points become a new lot, the credit itself, with the earliest expiry and the latest
        pending period of the lots they came from. Points the debit took from no recorded lot (a
        debit booked before lots were recorded, or one that drove the balance negative) become a
        new lot with ``expiry_date`` (None: the club's rule from today), as before.

        :returns: ``(restores, new lot points, expiry date, pending until)``: ``restores`` is
            ``{"consumptions": [(consumption id, points)], "lots": [(lot id, points)]}``, empty
            when nothing goes back to a recorded lot
        """
        self._check_give_back(card, points, debit)
        self.env.cr.execute(
            SQL(
                """SELECT c.id, c.lot_id, c.points - COALESCE(c.points_returned, 0),
                          l.card_id, l.expiry_date, l.pending_until
                     FROM loyalty_club_lot_consumption c
                     JOIN loyalty_club_entry l ON l.id = c.lot_id
                    WHERE c.debit_entry_id = %s AND c.points > COALESCE(c.points_returned, 0)
                 ORDER BY c.id DESC
                      FOR UPDATE OF c""",
                debit.id,
            )
        )
        consumptions, lots, moved = [], [], []
        left = to_lots
        for consumption_id, lot_id, open_points, lot_card_id, lot_expiry, lot_pending in self.env.cr.fetchall():
            if left <= 0:
                break
            take = min(left, open_points)
            left -= take
            consumptions.append((consumption_id, take))
            if lot_card_id == card.id:
                lots.append((lot_id, take))
            else:
                moved.append((lot_expiry, lot_pending))
        pending_until = None
        if moved:
            expiries = [expiry for expiry, _pending in moved if expiry]
            expiry_date = min(expiries) if expiries else False
            pendings = [pending for _expiry, pending in moved if pending]
            pending_until = max(pendings) if pendings else False
        new_lot = to_lots - sum(take for _lot_id, take in lots)
        restores = {"consumptions": consumptions, "lots": lots} if consumptions else {}
        return restores, new_lot, expiry_date, pending_until

    @api.model
    def _restore_lots(self, restores):
        """Apply a give-back plan of :meth:`_give_back_plan`: mark the consumptions given back and
        put the points back into their lots of this card (set-based)."""
        cr = self.env.cr
        cr.execute(
            SQL(
                """UPDATE loyalty_club_lot_consumption c
                      SET points_returned = COALESCE(c.points_returned, 0) + t.take
                     FROM unnest(%s::int[], %s::int[]) AS t(id, take)
                    WHERE c.id = t.id""",
                [consumption_id for consumption_id, _take in restores["consumptions"]],
                [take for _consumption_id, take in restores["consumptions"]],
            )
        )
        if restores["lots"]:
            cr.execute(
                SQL(
                    """UPDATE loyalty_club_entry e
                          SET points_remaining = e.points_remaining + t.take,
                              points_returned = COALESCE(e.points_returned, 0) + t.take
                         FROM (SELECT lot_id, SUM(take) AS take
                                 FROM unnest(%s::int[], %s::int[]) AS u(lot_id, take) GROUP BY lot_id) t
                        WHERE e.id = t.lot_id""",
                    [lot_id for lot_id, _take in restores["lots"]],
                    [take for _lot_id, take in restores["lots"]],
                )
            )
            self.env["loyalty.club.entry"].invalidate_model(["points_remaining", "points_returned"])
        self.env["loyalty.club.lot.consumption"].invalidate_model(["points_returned"])

    @api.model
    def _expiry_key(self, lot):
        """Posting key of the expiry of what is left of ``lot``. A lot expires once, and once more
        after each give-back put points back into it (the points given back so far tell them apart)."""
        return posting_keys.lot_expiry(lot)

    @api.model
    def _expire_card_lots(self, card, when):
        """Expire the card's lots due by ``when`` (a datetime; called under the card lock before a debit)."""
        lots = (
            self.env["loyalty.club.entry"]
            .sudo()
            .search(
                [
                    ("card_id", "=", card.id),
                    ("points_remaining", ">", 0),
                    ("expiry_date", "<=", fields.Date.to_date(when)),
                ],
                order="expiry_date, id",
            )
        )
        for lot in lots:
            self._post(
                card,
                -lot.points_remaining,
                "expire",
                self._expiry_key(lot),
                lot=lot,
                reason=self.env._("Points earned on %s expired", lot.date.date()),
                origin=lot,
                branch=card.company_id,  # as the expiry job: not the branch whose debit came first
                date=when,
            )

    @api.model
    def _cron_expire_points(self, batch_size=10000):
        """Post expiry entries for every lot due today (UTC), set-based, one batch per call.

        Idempotent: the expiry key of a lot is unique and an expired lot has nothing left.
        Reports progress to the cron so Odoo calls again until nothing is due (``remaining`` is
        capped at one batch).
        """
        today = fields.Date.today()
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            SQL(
                """SELECT DISTINCT card_id FROM (
                   SELECT card_id FROM loyalty_club_entry
                    WHERE points_remaining > 0 AND expiry_date <= %s
                 ORDER BY expiry_date, id LIMIT %s) due""",
                today,
                batch_size,
            )
        )
        card_ids = [row[0] for row in cr.fetchall()]
        if not card_ids:
            self.env["ir.cron"]._notify_progress(done=0, remaining=0)
            return 0
        cr.execute(SQL("SELECT id FROM loyalty_club_card WHERE id = ANY(%s) ORDER BY id FOR UPDATE", card_ids))
        # Set-based: the columns of _entry_values (of the lot's card, in its company), in SQL
        columns = (
            "card_id", "partner_id", "club_id", "company_id", "branch_id", "kind", "points", "date",
            "posting_key", "origin_model", "origin_id", "reason", "user_id",
            "points_remaining", "lot_id", "amount", "purchase_count", "qualifying",
        )  # fmt: skip
        self._write_entries(
            columns,
            SQL(
                """SELECT card_id, partner_id, club_id, company_id, company_id, 'expire', -points_remaining, %(now)s,
                          %(key)s, 'loyalty.club.entry', id, %(reason)s, %(uid)s,
                          0, id, 0, 0, FALSE
                     FROM loyalty_club_entry
                    WHERE card_id = ANY(%(cards)s) AND points_remaining > 0 AND expiry_date <= %(today)s""",
                cards=card_ids,
                today=today,
                now=fields.Datetime.now(),
                uid=self.env.uid,
                reason=self.env._("Points expired"),
                key=posting_keys.LOT_EXPIRY_SQL,
            ),
            empty_lots=True,
        )
        self.env["loyalty.club.entry"].invalidate_model()
        self.env["loyalty.club.card"].invalidate_model(["balance"])
        # Odoo only needs to know whether to call again: count at most one more batch, so the
        # progress report stays O(batch) instead of counting every due lot after each batch.
        cr.execute(
            SQL(
                """SELECT count(*) FROM (SELECT 1 FROM loyalty_club_entry
                    WHERE points_remaining > 0 AND expiry_date <= %s LIMIT %s) due""",
                today,
                batch_size,
            )
        )
        remaining = cr.fetchone()[0]
        self.env["ir.cron"]._notify_progress(done=len(card_ids), remaining=remaining)
        return len(card_ids)
