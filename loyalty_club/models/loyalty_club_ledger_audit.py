import logging

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.ledger_chain import backfill_sql, broken_links_sql

_logger = logging.getLogger(__name__)

# Ledgers whose entries are chained: (entry table, card column, card table).
POINTS = ("loyalty_club_entry", "card_id", "loyalty_club_card")
GIFT = ("loyalty_club_gift_card_entry", "gift_card_id", "loyalty_club_gift_card")
# Cards named in a report or messaged at most (the counts cover them all).
REPORTED_CARDS = 100


class LoyaltyClubPostingAudit(models.AbstractModel):
    """Audits of the ledgers: the hash chains of the point and gift card entries (tamper-evident
    ledgers, see ``tools/ledger_chain.py``) and the stored balances, set-based in SQL."""

    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _broken_chains(self, ledger, where=None, batch_size=100000):
        """``{card id: first broken entry id}`` of ``ledger`` (POINTS or GIFT): entries whose stored
        hash is not the hash of their booked columns chained to their stored predecessor. All the
        cards in ranges of ``batch_size`` card ids, or those of ``where`` (SQL on the alias ``e``)."""
        table, column, cards_table = ledger
        self.env.flush_all()
        cr = self.env.cr
        if where is not None:
            cr.execute(broken_links_sql(table, column, where))
            return dict(cr.fetchall())
        cr.execute(SQL("SELECT min(id), max(id) FROM %s", SQL.identifier(cards_table)))
        low, high = cr.fetchone()
        result = {}
        for first in range(low or 0, (high or -1) + 1, batch_size):
            where = SQL("e.%s BETWEEN %s AND %s", SQL.identifier(column), first, first + batch_size - 1)
            cr.execute(broken_links_sql(table, column, where))
            result.update(cr.fetchall())
        return result

    @api.model
    def _audit_chains(self, cards=None):
        """Point ledger: ``{card id: first broken entry id}`` (all cards, or ``cards``)."""
        where = SQL("e.card_id = ANY(%s)", cards.ids) if cards is not None else None
        return self._broken_chains(POINTS, where)

    @api.model
    def _audit_gift_card_chains(self, cards=None):
        """Gift card ledger: ``{gift card id: first broken entry id}`` (all cards, or ``cards``)."""
        where = SQL("e.gift_card_id = ANY(%s)", cards.ids) if cards is not None else None
        return self._broken_chains(GIFT, where)

    @api.model
    def _backfill_chains(self):
        """Chain the entries that have no hash yet (entries booked before the chain existed, bulk
        loads without triggers), whole cards at a time, in one statement per ledger. Returns the
        number of entries hashed."""
        self.env.flush_all()
        count = 0
        for table, column, _cards in (POINTS, GIFT):
            self.env.cr.execute(backfill_sql(table, column))
            count += self.env.cr.rowcount
        self.env["loyalty.club.entry"].invalidate_model(["chain_digest"])
        self.env["loyalty.club.gift.card.entry"].invalidate_model(["chain_digest"])
        return count

    @api.model
    def _ledger_audit(self, club=None):
        """Every audit of the ledgers of ``club`` (default: all clubs), set-based:
        ``{"chains": {card id: entry id}, "gift_chains": {...}, "balances": {card id: (stored, sum)},
        "gift_balances": {...}}``."""
        if club is None:
            return {
                "chains": self._audit_chains(),
                "gift_chains": self._audit_gift_card_chains(),
                "balances": self._audit_balances(),
                "gift_balances": self._audit_gift_cards(),
            }
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            SQL(
                """SELECT c.id, c.balance, COALESCE(s.total, 0)
                     FROM loyalty_club_card c
                LEFT JOIN (SELECT card_id, SUM(points) AS total FROM loyalty_club_entry
                            WHERE club_id = %(club)s GROUP BY card_id) s ON s.card_id = c.id
                    WHERE c.club_id = %(club)s AND c.balance <> COALESCE(s.total, 0)""",
                club=club.id,
            )
        )
        balances = {card_id: (stored, total) for card_id, stored, total in cr.fetchall()}
        cr.execute(
            SQL(
                """SELECT c.id, c.balance, COALESCE(s.total, 0)
                     FROM loyalty_club_gift_card c
                LEFT JOIN (SELECT e.gift_card_id, SUM(e.amount) AS total
                             FROM loyalty_club_gift_card_entry e
                             JOIN loyalty_club_gift_card g ON g.id = e.gift_card_id AND g.club_id = %(club)s
                         GROUP BY e.gift_card_id) s ON s.gift_card_id = c.id
                    WHERE c.club_id = %(club)s AND c.balance <> COALESCE(s.total, 0)""",
                club=club.id,
            )
        )
        gift_balances = {card_id: (stored, total) for card_id, stored, total in cr.fetchall()}
        return {
            "chains": self._broken_chains(POINTS, SQL("e.club_id = %s", club.id)),
            "gift_chains": self._broken_chains(
                GIFT, SQL("e.gift_card_id IN (SELECT id FROM loyalty_club_gift_card WHERE club_id = %s)", club.id)
            ),
            "balances": balances,
            "gift_balances": gift_balances,
        }

    @api.model
    def _ledger_audit_summary(self, result):
        """One text for people: what was found, the first broken entry of each card (a hundred)."""
        env = self.env
        Card = env["loyalty.club.card"].sudo()
        GiftCard = env["loyalty.club.gift.card"].sudo()
        lines = []
        if not any(result.values()):
            return env._("Ledgers intact: every entry matches its chain hash and every balance its entries.")
        for card_id, entry_id in sorted(result["chains"].items())[:REPORTED_CARDS]:
            lines.append(
                env._(
                    "Points of card %(card)s: entry #%(entry)s and the entries after it were altered.",
                    card=Card.browse(card_id).number,
                    entry=entry_id,
                )
            )
        for card_id, entry_id in sorted(result["gift_chains"].items())[:REPORTED_CARDS]:
            lines.append(
                env._(
                    "Gift card %(card)s: entry #%(entry)s and the entries after it were altered.",
                    card=GiftCard.browse(card_id)._masked(),
                    entry=entry_id,
                )
            )
        for card_id, (stored, total) in sorted(result["balances"].items())[:REPORTED_CARDS]:
            lines.append(
                env._(
                    "Card %(card)s: balance %(stored)s, its entries add up to %(total)s.",
                    card=Card.browse(card_id).number,
                    stored=stored,
                    total=total,
                )
            )
        for card_id, (stored, total) in sorted(result["gift_balances"].items())[:REPORTED_CARDS]:
            lines.append(
                env._(
                    "Gift card %(card)s: balance %(stored)s, its entries add up to %(total)s.",
                    card=GiftCard.browse(card_id)._masked(),
                    stored=stored,
                    total=total,
                )
            )
        counts = env._(
            "Ledger audit: %(chains)s cards and %(gift_chains)s gift cards with an altered entry, %(balances)s "
            "cards and %(gift_balances)s gift cards whose balance differs from their entries.",
            chains=len(result["chains"]),
            gift_chains=len(result["gift_chains"]),
            balances=len(result["balances"]),
            gift_balances=len(result["gift_balances"]),
        )
        return "\n".join([counts, *lines])

    @api.model
    def _cron_audit_ledgers(self):
        """Nightly: audit every chain and balance of both ledgers, record the result on each club,
        note the first altered entry on each card concerned (a hundred) and log a warning."""
        result = self._ledger_audit()
        Club = self.env["loyalty.club"].sudo().with_context(active_test=False)
        Card = self.env["loyalty.club.card"].sudo()
        GiftCard = self.env["loyalty.club.gift.card"].sudo()
        clubs_of = {}
        for card in Card.browse(list(result["chains"]) + list(result["balances"])):
            clubs_of.setdefault(card.club_id, {"chains": {}, "gift_chains": {}, "balances": {}, "gift_balances": {}})
        for card in GiftCard.browse(list(result["gift_chains"]) + list(result["gift_balances"])):
            clubs_of.setdefault(card.club_id, {"chains": {}, "gift_chains": {}, "balances": {}, "gift_balances": {}})
        for key, Model in (
            ("chains", Card),
            ("balances", Card),
            ("gift_chains", GiftCard),
            ("gift_balances", GiftCard),
        ):
            for card_id, value in result[key].items():
                clubs_of[Model.browse(card_id).club_id][key][card_id] = value
        now = fields.Datetime.now()
        for club in Club.search([("active", "in", (True, False))]):
            found = clubs_of.get(club, {"chains": {}, "gift_chains": {}, "balances": {}, "gift_balances": {}})
            club.write({"ledger_audit_date": now, "ledger_audit_result": self._ledger_audit_summary(found)})
        for key, Model in (("chains", Card), ("gift_chains", GiftCard)):
            for card_id, entry_id in sorted(result[key].items())[:REPORTED_CARDS]:
                Model.browse(card_id).message_post(
                    body=self.env._(
                        "Ledger audit: entry #%s does not match its chain hash; it was altered outside the club.",
                        entry_id,
                    )
                )
        if any(result.values()):
            _logger.warning("loyalty_club: %s", self._ledger_audit_summary(result).replace("\n", "; "))
        return result
