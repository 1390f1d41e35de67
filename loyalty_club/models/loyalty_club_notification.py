from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

NOTIFICATION_KINDS = [
    ("welcome", "Welcome"),
    ("earned", "Points earned"),
    ("tier_up", "Tier upgrade"),
    ("tier_down", "Tier downgrade"),
    ("expiring", "Points expiring"),
    ("birthday", "Birthday"),
]
# Club switch of each kind of message
KIND_SWITCHES = {
    "welcome": "notify_welcome",
    "earned": "notify_earned",
    "tier_up": "notify_tier",
    "tier_down": "notify_tier",
    "expiring": "notify_expiring",
    "birthday": "notify_birthday",
}


class LoyaltyClubNotification(models.Model):
    """Log of the club's automatic messages to members.

    One row per message key (unique in the database): it makes every message happen once,
    counts messages for the weekly cap, and links the queued ``mail.mail``/``sms.sms`` so a
    message can be cancelled before the queue sends it (e.g. points of a cancelled order).
    Messages are only queued: a rolled-back transaction leaves nothing behind.
    """

    _name = "loyalty.club.notification"
    _description = "Club Message"
    _order = "date desc, id desc"
    _check_company_auto = True

    key = fields.Char("Message key", required=True, readonly=True, index=True)
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now, index=True)
    club_id = fields.Many2one("loyalty.club", required=True, readonly=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    partner_id = fields.Many2one("res.partner", "Member", required=True, readonly=True, index=True)
    card_id = fields.Many2one("loyalty.club.card", readonly=True, ondelete="cascade")
    entry_id = fields.Many2one("loyalty.club.entry", "Ledger entry", readonly=True, index="btree_not_null")
    kind = fields.Selection(NOTIFICATION_KINDS, required=True, readonly=True)
    state = fields.Selection(
        string="Status",
        selection=[
            ("queued", "Queued"),
            ("capped", "Over the weekly limit"),
            ("opted_out", "Member opted out"),
            ("no_address", "No e-mail or phone"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        readonly=True,
        default="queued",
    )
    mail_id = fields.Many2one("mail.mail", "E-mail", readonly=True, ondelete="set null")
    sms_id = fields.Many2one("sms.sms", "SMS", readonly=True, ondelete="set null")

    _sql_constraints = [("key_unique", "unique(key)", "This message was already handled.")]

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------
    @api.model
    def _claim_key(self, card, kind, key, entry=None):
        """Insert the log row for ``key`` unless it exists: the id, or None when it was handled
        before (also by a concurrent transaction, which this one waits for)."""
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """INSERT INTO loyalty_club_notification
                         (key, date, club_id, company_id, partner_id, card_id, entry_id, kind, state,
                          create_uid, create_date, write_uid, write_date)
                  VALUES (%(key)s, %(now)s, %(club)s, %(company)s, %(partner)s, %(card)s, %(entry)s, %(kind)s,
                          'queued', %(uid)s, %(now)s, %(uid)s, %(now)s)
             ON CONFLICT (key) DO NOTHING
               RETURNING id""",
                key=key,
                now=now,
                club=card.club_id.id,
                company=card.company_id.id,
                partner=card.partner_id.id,
                card=card.id,
                entry=entry.id if entry else None,
                kind=kind,
                uid=self.env.uid,
            )
        )
        row = self.env.cr.fetchone()
        return row[0] if row else None

    @api.model
    def _sent_last_week(self, partner, exclude_id):
        self.env.cr.execute(
            """SELECT count(*) FROM loyalty_club_notification
                WHERE partner_id = %s AND state = 'queued' AND date > %s AND id != %s""",
            [partner.id, fields.Datetime.now() - timedelta(days=7), exclude_id],
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _notify(self, card, kind, key, record, entry=None):
        """Queue the club's ``kind`` message about ``record`` (the template's document) to the
        card's member, once per ``key``, within the weekly cap and the member's opt-out.

        :returns: the log row (``loyalty.club.notification``), empty when the club sends no
            message of this kind or the key was handled before
        """
        card = card.sudo()
        club = card.club_id
        if club.notify_channel == "none" or not club[KIND_SWITCHES[kind]]:
            return self.browse()
        self.flush_model()
        log_id = self._claim_key(card, kind, key, entry=entry)
        if not log_id:
            return self.browse()
        log = self.sudo().browse(log_id)
        partner = card.partner_id
        cap = club.notify_cap_per_week
        values = {}
        if partner.loyalty_club_opt_out:
            values["state"] = "opted_out"
        elif cap and self._sent_last_week(partner, log_id) >= cap:
            values["state"] = "capped"
        else:
            if club.notify_channel in ("mail", "both"):
                values["mail_id"] = self._queue_mail(kind, record, partner)
            if club.notify_channel in ("sms", "both"):
                values["sms_id"] = self._queue_sms(kind, record, partner)
            if not values.get("mail_id") and not values.get("sms_id"):
                values["state"] = "no_address"
        if values:
            log.write(values)
        return log

    @api.model
    def _queue_mail(self, kind, record, partner):
        """Queue the kind's e-mail (``mail.mail`` in the outgoing queue); False when the member
        has no usable address or is on the e-mail blacklist."""
        if not partner.email_normalized or partner.is_blacklisted:
            return False
        template = self.env.ref(f"loyalty_club.mail_template_{kind}", raise_if_not_found=False)
        if not template:
            return False
        return template.sudo().send_mail(record.id, force_send=False)

    @api.model
    def _queue_sms(self, kind, record, partner):
        """Queue the kind's SMS (``sms.sms`` outgoing, sent by the SMS queue's cron); False when
        the member has no mobile number or it is blacklisted."""
        number = partner.phone_sanitized
        if not number or partner.phone_sanitized_blacklisted:
            return False
        template = self.env.ref(f"loyalty_club.sms_template_{kind}", raise_if_not_found=False)
        if not template:
            return False
        body = template.sudo()._render_field("body", record.ids, compute_lang=True)[record.id]
        sms = self.env["sms.sms"].sudo().create({"body": body, "partner_id": partner.id, "number": number})
        return sms.id

    def _cancel(self):
        """Cancel queued messages that the queue has not sent yet."""
        queued = self.sudo().filtered(lambda log: log.state == "queued")
        queued.mail_id.filtered(lambda mail: mail.state in ("outgoing", "exception")).write({"state": "cancel"})
        queued.sms_id.filtered(lambda sms: sms.state in ("outgoing", "error")).write({"state": "canceled"})
        queued.write({"state": "cancelled"})

    @api.model
    def _cancel_for_entry(self, entry):
        """Cancel the queued messages about a ledger entry (its purchase was cancelled)."""
        self.sudo().search([("entry_id", "=", entry.id), ("state", "=", "queued")])._cancel()

    # ------------------------------------------------------------------
    # Expiring points cron
    # ------------------------------------------------------------------
    @api.model
    def _expiring_lots_query(self, today, limit=None):
        return SQL(
            """SELECT e.id FROM loyalty_club_entry e
                 JOIN loyalty_club club ON club.id = e.club_id
                 JOIN loyalty_club_card c ON c.id = e.card_id
                WHERE e.points_remaining > 0
                  AND e.expiry_date > %(today)s
                  AND e.expiry_date <= %(today)s::date + club.notify_expiring_days
                  AND club.notify_expiring AND club.notify_channel != 'none'
                  AND c.state = 'active'
                  AND NOT EXISTS (SELECT 1 FROM loyalty_club_notification n
                                   WHERE n.key = 'expiring:' || e.id)
             ORDER BY e.id
             %(limit)s""",
            today=today,
            limit=SQL("LIMIT %s", limit) if limit else SQL(),
        )

    @api.model
    def _cron_expiring_notices(self, batch_size=1000):
        """Daily: tell members about points expiring soon, once per lot (key ``expiring:<lot>``).

        One batch per call, selected in SQL among the due lots not yet handled, so it is
        idempotent and resumable; reports progress so the cron runner calls again.
        """
        today = fields.Date.today()
        self.env.flush_all()
        self.env.cr.execute(self._expiring_lots_query(today, limit=batch_size))
        lots = self.env["loyalty.club.entry"].sudo().browse([row[0] for row in self.env.cr.fetchall()])
        for lot in lots:
            self._notify(lot.card_id, "expiring", f"expiring:{lot.id}", lot)
        remaining = 0
        if len(lots) >= batch_size:
            # capped at one batch: whether to call again, not a count of every due lot
            self.env.flush_all()
            self.env.cr.execute(SQL("SELECT count(*) FROM (%s) due", self._expiring_lots_query(today, batch_size)))
            remaining = self.env.cr.fetchone()[0]
        # the scheduler calls again in the same environment: free this batch's records
        self.env.invalidate_all()
        self.env["ir.cron"]._notify_progress(done=len(lots), remaining=remaining)
        return len(lots)
