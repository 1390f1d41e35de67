from odoo.addons.loyalty_club.tools.ledger_chain import backfill_sql


def migrate(cr, version):
    """Chain the point and gift card entries booked before the ledgers were tamper-evident: one
    UPDATE per ledger computes every card's chain in entry order (a running aggregate of the
    hashes); the triggers created by the upgrade chain every new entry to them. Reward lines of
    quotations get the card they were given for. Shelf gift cards no longer expire (their
    validity starts when they are sold or loaded): the cards the daily job expired while they
    were still on the shelf (expired, never loaded: no ledger entry at all) go back on the shelf."""
    if not version:
        return
    for table, column in (("loyalty_club_entry", "card_id"), ("loyalty_club_gift_card_entry", "gift_card_id")):
        cr.execute(backfill_sql(table, column))
    # Reward lines now name the card whose PIN was checked for them: the order's card so far.
    cr.execute(
        """UPDATE sale_order_line line
              SET loyalty_reward_card_id = so.loyalty_card_id
             FROM sale_order so
            WHERE so.id = line.order_id AND line.loyalty_reward_id IS NOT NULL
              AND line.loyalty_reward_card_id IS NULL"""
    )
    cr.execute(
        """UPDATE loyalty_club_gift_card card
              SET state = 'inactive'
            WHERE card.state = 'expired'
              AND NOT EXISTS (SELECT 1 FROM loyalty_club_gift_card_entry entry WHERE entry.gift_card_id = card.id)"""
    )
