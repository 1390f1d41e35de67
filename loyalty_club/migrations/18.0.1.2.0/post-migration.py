def migrate(cr, version):
    """Shelf gift cards no longer expire (their validity starts when they are sold or loaded):
    give back their state to the cards the daily job expired while they were still on the shelf
    (expired, never loaded: no ledger entry at all), so they can be sold."""
    if not version:
        return
    cr.execute(
        """UPDATE loyalty_club_gift_card card
              SET state = 'inactive'
            WHERE card.state = 'expired'
              AND NOT EXISTS (SELECT 1 FROM loyalty_club_gift_card_entry entry WHERE entry.gift_card_id = card.id)"""
    )
