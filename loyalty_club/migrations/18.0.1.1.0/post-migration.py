def migrate(cr, version):
    """Mark the clubs whose cards keep legacy numbers (imported before the flag existed), so
    their tills look up scanned legacy numbers."""
    if not version:
        return
    cr.execute(
        """UPDATE loyalty_club club
              SET has_legacy_numbers = TRUE
            WHERE has_legacy_numbers IS NOT TRUE
              AND EXISTS (SELECT 1 FROM loyalty_club_card card WHERE card.club_id = club.id AND card.legacy_number)"""
    )
