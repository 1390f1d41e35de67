"""Posting keys: the unique ``posting_key`` of every ledger entry, built here and only here.

A posting key makes a posting exactly-once: the database refuses a second entry with the same
key, so a retried POS sync, a double click or a replayed job never posts twice. Databases hold
these strings: **a format must never change** (a changed key would post again on a replay); a
new kind of posting gets a new function. ``tests/test_posting_keys.py`` pins every format.

Points ledger (``loyalty.club.entry``)::

    <model>:<id>:<line or 0>:<kind>                       record()          a back-office record (adjust
                                                                            wizard, coalition transaction)
    sale.order:<order>:<cycle>:<kind>                     sale_order()      earn, redeem, unredeem, reverse
                                                                            of the order's confirmation cycle
    account.move:<move>:<order>:<cycle>:<kind>            credit_note()     reverse, restore of an order's
                                                                            points by a credit note
    pos.order:<uuid or id>:<kind>                         pos_order()       earn, redeem, unredeem, reverse
    transfer:<source>:<target>:<lot>:<in|out>             transfer_lot()    a lot moved to a replacing card
    transfer:<source>:<target>:debt:<in|out>              transfer_debt()   a debt moved to a replacing card
    loyalty.club.entry:<lot>:<points returned>:expire     lot_expiry()      (LOT_EXPIRY_SQL in SQL)
    bonus:<kind>:<rule>:<partner>[:<detail>]              bonus()           visit:<date>, nth:<count>,
                                                                            mission:<period>, join, profile,
                                                                            birthday|anniversary:<year>
                                                                            (DUE_BONUS_SQL in SQL)
    bonus:referral:<rule>:<partner>:<referrer|referred>   bonus()           a referral's two bonuses
    <key of the corrected entry>:reverse                  reversal_of()     a bonus taken back
    import:opening:<card>                                 import_opening()  an opening balance imported
    native:loyalty.card:<native card>:opening             native_opening()  migrated from Odoo's Loyalty
    sale.order:<order>:payment:<attempt>:<what>           web_payment()     (web shop) redeem, unredeem

Gift card ledger (``loyalty.club.gift.card.entry``)::

    <model>:<id>:<card>:load                              record()          issue wizard (line: the card)
    <model>:<id>:<kind>[:<part>]                          wizard()          payment wizard (redeem), refund
                                                                            wizard (refund, then :1, :2 ...)
    sale.order.line:<line>:<unit>:gift_load[:reload<n>]   sale_gift_load()  a card sold by a sale order
                                                                            line, loaded again after each
                                                                            cancellation took it back
    <key of the load>:unload                              unload_of()       a sale's load taken back
    pos.order:<uuid or id>:gift_redeem:<card>             pos_order()       (kind: pos_gift_redeem())
    pos.order:<uuid or id>:gift_refund:<card>             pos_order()       (kind: pos_gift_refund())
    pos.order:<uuid or id>:gift_refund_new                pos_order()       a refund loaded on a new card
    pos.order:<uuid or id>:gift_load:<line>:<unit>        pos_order()       (kind: pos_gift_load())
    loyalty.club.gift.card:<card>:expire                  GIFT_CARD_EXPIRY_SQL (set-based, SQL only)
    native:loyalty.card:<native card>:gift_load           native_gift_load()
    sale.order:<order>:payment:<attempt>:<what>           web_payment()     (web shop) gift_card_redeem,
                                                                            gift_card_unredeem

Keys of demo data are written in the demo files. Notification keys, attempt scopes and HMAC
messages are not posting keys and are not built here.
"""

from odoo.tools import SQL

# SQL expressions of the keys that set-based jobs insert or look up, over the columns named
# (lot_expiry() of a lot row; the gift card expiry of a gift card row; bonus() of a due row).
LOT_EXPIRY_SQL = SQL("'loyalty.club.entry:' || id || ':' || COALESCE(points_returned, 0) || ':expire'")
GIFT_CARD_EXPIRY_SQL = SQL("'loyalty.club.gift.card:' || id || ':expire'")
DUE_BONUS_SQL = SQL("'bonus:' || due.kind || ':' || due.rule_id || ':' || due.partner_id || ':' || due.local_year")


def record(origin, kind, line=None):
    """``<model>:<id>:<line or 0>:<kind>``: a posting of a back-office record (line: any
    sub-identifier, e.g. the card an issue wizard loads)."""
    return f"{origin._name}:{origin.id}:{line if line is not None else 0}:{kind}"


def wizard(wizard_record, kind, part=0):
    """``<model>:<id>:<kind>``, then ``:<part>`` for the next parts (a refund across payments)."""
    key = f"{wizard_record._name}:{wizard_record.id}:{kind}"
    return f"{key}:{part}" if part else key


def sale_order(order, cycle, kind):
    """``sale.order:<order>:<cycle>:<kind>``: earn, redeem, unredeem, reverse of a confirmation."""
    return f"sale.order:{order.id}:{cycle}:{kind}"


def credit_note(move, order, cycle, kind):
    """``account.move:<move>:<order>:<cycle>:<kind>``: reverse, restore of ``order``'s points."""
    return f"account.move:{move.id}:{order.id}:{cycle}:{kind}"


def pos_order(order, kind):
    """``pos.order:<uuid or id>:<kind>``: by the till's uuid, so a retried or concurrent sync of
    the same order never posts twice, whatever database id it got."""
    return f"pos.order:{order.uuid or order.id}:{kind}"


def pos_gift_redeem(card):
    """Kind of :func:`pos_order` for the order's payments by gift card ``card``."""
    return f"gift_redeem:{card.id}"


def pos_gift_refund(card):
    """Kind of :func:`pos_order` for a refund given back to gift card ``card``."""
    return f"gift_refund:{card.id}"


POS_GIFT_REFUND_NEW = "gift_refund_new"


def pos_gift_load(line, unit):
    """Kind of :func:`pos_order` for ``unit`` (0-based) of the gift cards sold by POS ``line``."""
    return f"gift_load:{line.uuid or line.id}:{unit}"


def transfer_lot(source, target, lot, direction):
    """``transfer:<source>:<target>:<lot>:<in|out>``: a lot moved from a replaced card."""
    return f"transfer:{source.id}:{target.id}:{lot.id}:{direction}"


def transfer_debt(source, target, direction):
    """``transfer:<source>:<target>:debt:<in|out>``: a negative balance moved to the new card."""
    return f"transfer:{source.id}:{target.id}:debt:{direction}"


def lot_expiry(lot):
    """``loyalty.club.entry:<lot>:<points returned>:expire``: once per lot and give-back."""
    return f"loyalty.club.entry:{lot.id}:{lot.points_returned or 0}:expire"


def bonus(kind, rule, partner, detail=None):
    """``bonus:<kind>:<rule>:<partner>[:<detail>]`` (kind as in the key: visit, nth, mission,
    referral, join, profile, birthday, anniversary)."""
    key = f"bonus:{kind}:{rule.id}:{partner.id}"
    return key if detail is None else f"{key}:{detail}"


def reversal_of(entry):
    """``<key of entry>:reverse``: ``entry`` taken back (a bonus of a cancelled purchase)."""
    return f"{entry.posting_key}:reverse"


def unload_of(load):
    """``<key of load>:unload``: the money of a gift card load taken back."""
    return f"{load.posting_key}:unload"


def import_opening(card_id):
    """``import:opening:<card>``: a card's one opening balance imported from a file."""
    return f"import:opening:{card_id}"


def native_opening(native_card_id):
    """``native:loyalty.card:<id>:opening``: a native loyalty card or eWallet moved to the club."""
    return f"native:loyalty.card:{native_card_id}:opening"


def native_gift_load(native_card_id):
    """``native:loyalty.card:<id>:gift_load``: a native gift card moved to the club."""
    return f"native:loyalty.card:{native_card_id}:gift_load"


def sale_gift_load(line, unit, reload=0):
    """``sale.order.line:<line>:<unit>:gift_load[:reload<n>]``: ``unit`` (0-based, or ``"%"`` in
    a ``=like`` pattern) of the gift cards sold by sale order ``line``, loaded the first time or
    again after the ``reload``-th cancellation took the money back."""
    key = f"sale.order.line:{line.id}:{unit}:gift_load"
    return f"{key}:reload{reload}" if reload else key


def sale_gift_load_like(line, unit="%"):
    """``=like`` pattern of every load of ``unit`` (default: every unit) of sale order ``line``."""
    return f"{sale_gift_load(line, unit)}%"


def sale_gift_load_unit(key):
    """The unit of a :func:`sale_gift_load` key."""
    return int(key.split(":")[2])


def web_payment(order, attempt, what):
    """``sale.order:<order>:payment:<attempt>:<what>``: what an order takes when the customer pays
    online, one number per payment attempt (redeem, unredeem of points; gift_card_redeem,
    gift_card_unredeem of the gift card ledger)."""
    return f"sale.order:{order.id}:payment:{attempt}:{what}"


def web_payment_attempt(key):
    """The attempt of a :func:`web_payment` key (a string, as in the key)."""
    return key.split(":")[3]
