from odoo import api, fields, models
from odoo.tools import SQL

from ..tools.append_only import PARTNER_MERGE_SETTING


# The posting service is split by subject: this file moves the club's records of merged contacts.
class LoyaltyClubPosting(models.AbstractModel):
    _inherit = "loyalty.club.posting"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _merge_partners(self, src_partners, dst_partner):
        """Give everything the club keeps about ``src_partners`` to ``dst_partner`` (Odoo's contact
        merge calls this before it rewrites the other references and deletes the sources).

        - Every column of the club's tables naming a source contact (cards, point ledger entries,
          qualifying totals, tier history, gift card owners, messages...) is set to the surviving
          contact, set-based, under the cards' row locks. The ledger's append-only trigger allows
          exactly this change of its member column, during this call only (a transaction-local
          setting naming the surviving and the merged contacts), nothing else.
        - One active card per club: when the merged contacts hold several active cards of one
          club, the surviving contact's (its oldest, if it has several) is kept, else the oldest;
          each other one is replaced by it as a lost card is (its lots move with their expiry
          through the card replacement transfer, a debt as a debt; it becomes *lost / replaced*
          and later movements of its orders follow the replacement chain).
        - Tiers: the member's metric now covers the history of all merged cards; the kept cards
          are upgraded when it qualifies them, and never end below the best tier a replaced card
          had (history reason *Contact merge*).
        - A card of the member referred by another card of the same member forgets its referrer.
        - Every moved or replaced card says so in its chatter.
        """
        src_partners = src_partners.exists() - dst_partner
        if not src_partners:
            return
        dst_partner.ensure_one()
        Card = self.env["loyalty.club.card"].sudo().with_context(active_test=False)
        self.env.flush_all()
        cards = Card.search([("partner_id", "in", (src_partners | dst_partner).ids)], order="id")
        if cards:
            self._lock_rows(cards)
        moved_cards = cards.filtered(lambda card: card.partner_id in src_partners)
        previous_partner = {card.id: card.partner_id for card in moved_cards}
        moved_entries = self._move_partner_columns(src_partners, dst_partner)
        self.env.invalidate_all()
        moved_cards.modified(["partner_id"])
        self.env.flush_all()
        new_name = f"{dst_partner.display_name} (#{dst_partner.id})"
        for card in moved_cards:
            old_partner = previous_partner[card.id]
            old_name = f"{old_partner.display_name} (#{old_partner.id})"
            card.message_post(
                body=self.env._(
                    "Contact merge: %(old)s was merged into %(new)s; this card and its %(count)s ledger "
                    "entries now belong to %(new)s.",
                    old=old_name,
                    new=new_name,
                    count=moved_entries.get(card.id, 0),
                )
            )
        if not moved_cards:
            return
        clubs = moved_cards.club_id
        cards = Card.search([("partner_id", "=", dst_partner.id), ("club_id", "in", clubs.ids)], order="id")
        for club in clubs:
            club_cards = cards.filtered(lambda card, club=club: card.club_id == club)
            self._merge_active_cards(club_cards, moved_cards)
        self._forget_self_referrals(cards)
        kept = cards.filtered(lambda card: card.state == "active")
        kept._upgrade_tier_if_qualified()

    @api.model
    def _move_partner_columns(self, src_partners, dst_partner):
        """Set every many2one to contacts of the club's tables from ``src_partners`` to
        ``dst_partner`` in SQL (the ledger's member column through the merge exception of its
        trigger). Returns ``{card id: ledger entries moved}``."""
        cr = self.env.cr
        merge = f"{dst_partner.id}:{','.join(str(partner_id) for partner_id in src_partners.ids)}"
        cr.execute(SQL("SELECT set_config(%s, %s, true)", PARTNER_MERGE_SETTING, merge))
        moved_entries = {}
        for model in self.env.registry.values():
            if not model._name.startswith("loyalty.club") or model._abstract or model._transient or not model._auto:
                continue
            for field in model._fields.values():
                if not (field.type == "many2one" and field.comodel_name == "res.partner" and field.store):
                    continue
                update = SQL(
                    "UPDATE %s SET %s = %s WHERE %s = ANY(%s)",
                    SQL.identifier(model._table),
                    SQL.identifier(field.name),
                    dst_partner.id,
                    SQL.identifier(field.name),
                    src_partners.ids,
                )
                if model._name != "loyalty.club.entry":
                    cr.execute(update)
                    continue
                # the ledger: how many entries of each card moved, counted in the database
                cr.execute(
                    SQL(
                        "WITH moved AS (%s RETURNING card_id) SELECT card_id, count(*) FROM moved GROUP BY card_id",
                        update,
                    )
                )
                for card_id, count in cr.fetchall():
                    moved_entries[card_id] = moved_entries.get(card_id, 0) + count
        cr.execute(SQL("SELECT set_config(%s, '', true)", PARTNER_MERGE_SETTING))
        return moved_entries

    @api.model
    def _merge_active_cards(self, club_cards, moved_cards):
        """Keep one active card of the merged member in a club (``club_cards``: all the member's
        cards of the club, in id order): the one the surviving contact held (its oldest), else the
        oldest; the others are replaced by it with their balances (card replacement transfer)."""
        active = club_cards.filtered(lambda card: card.state == "active")
        if len(active) < 2:
            return
        kept = (active - moved_cards)[:1] or active[:1]
        best_tier = kept.tier_id
        for other in active - kept:
            before = kept.balance
            self._transfer_balance(other, kept, origin=other)
            other.sudo().write({"state": "lost", "replaced_by_id": kept.id})
            other.message_post(
                body=self.env._(
                    "Contact merge: replaced by card %s of the same member; the balance was transferred.",
                    kept.number,
                )
            )
            kept.message_post(
                body=self.env._(
                    "Contact merge: card %(card)s of the merged member was replaced by this card "
                    "(%(points)s points transferred).",
                    card=other.number,
                    points=kept.balance - before,
                )
            )
            if other.tier_id and (not best_tier or other.tier_id.threshold > best_tier.threshold):
                best_tier = other.tier_id
        kept._upgrade_tier_if_qualified()
        if best_tier and (not kept.tier_id or best_tier.threshold > kept.tier_id.threshold):
            kept._change_tiers(
                [(kept.id, kept.tier_id.id or None, best_tier.id, "merge", self.env._("Contact merge"))],
                fields.Date.today(),
                notify=False,
            )

    @api.model
    def _forget_self_referrals(self, cards):
        """After a merge, a card of the member referred by another card of the same member loses
        its referrer (a member does not refer themselves)."""
        self_referred = cards.filtered(lambda card: card.referred_by_card_id in cards)
        if not self_referred:
            return
        self.env.cr.execute(
            "UPDATE loyalty_club_card SET referred_by_card_id = NULL WHERE id = ANY(%s)", [self_referred.ids]
        )
        self_referred.invalidate_recordset(["referred_by_card_id"])
        for card in self_referred:
            card.message_post(body=self.env._("Contact merge: the member can no longer be their own referrer."))
