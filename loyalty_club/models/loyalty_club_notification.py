from collections import defaultdict
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
    _inherit = ["loyalty.club.protected.mixin"]
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
            ("no_address", "No address for the channel"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        readonly=True,
        default="queued",
    )
    mail_id = fields.Many2one("mail.mail", "E-mail", readonly=True, ondelete="set null")
    sms_id = fields.Many2one("sms.sms", "SMS", readonly=True, ondelete="set null")
    # the gateway's delivery report and the parts billed (issue 21)
    sms_state = fields.Selection(related="sms_id.state", string="SMS status")
    sms_segments = fields.Integer(related="sms_id.loyalty_sms_segments", string="SMS segments")

    _sql_constraints = [("key_unique", "unique(key)", "This message was already handled.")]

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------
    @api.model
    def _claim_keys(self, items):
        """Insert the log rows of ``items`` (``(card, kind, key, entry)``) whose key is new, in one
        statement: ``{key: log id}`` of the new ones (a key handled before, also by a concurrent
        transaction, which this one waits for, is left out)."""
        if not items:
            return {}
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """INSERT INTO loyalty_club_notification
                         (key, date, club_id, company_id, partner_id, card_id, entry_id, kind, state,
                          create_uid, create_date, write_uid, write_date)
                   SELECT key, %(now)s, club, company, partner, card, entry, kind, 'queued',
                          %(uid)s, %(now)s, %(uid)s, %(now)s
                     FROM unnest(%(keys)s::varchar[], %(clubs)s::int[], %(companies)s::int[], %(partners)s::int[],
                                 %(cards)s::int[], %(entries)s::int[], %(kinds)s::varchar[])
                          AS i(key, club, company, partner, card, entry, kind)
              ON CONFLICT (key) DO NOTHING
                RETURNING key, id""",
                now=now,
                uid=self.env.uid,
                keys=[key for _card, _kind, key, _entry in items],
                clubs=[card.club_id.id for card, _kind, _key, _entry in items],
                companies=[card.company_id.id for card, _kind, _key, _entry in items],
                partners=[card.partner_id.id for card, _kind, _key, _entry in items],
                cards=[card.id for card, _kind, _key, _entry in items],
                entries=[entry.id if entry else None for _card, _kind, _key, entry in items],
                kinds=[kind for _card, kind, _key, _entry in items],
            )
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _sent_last_week_counts(self, partners, exclude_ids):
        """Messages queued to each of ``partners`` in the last 7 days, except ``exclude_ids``."""
        self.env.cr.execute(
            """SELECT partner_id, count(*) FROM loyalty_club_notification
                WHERE partner_id = ANY(%s) AND state = 'queued' AND date > %s AND id != ALL(%s::int[])
             GROUP BY partner_id""",
            [partners.ids, fields.Datetime.now() - timedelta(days=7), list(exclude_ids)],
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _notify(self, card, kind, key, record, entry=None):
        """Queue the club's ``kind`` message about ``record`` (the template's document) to the
        card's member, once per ``key``, within the weekly cap and the member's opt-out.

        :returns: the log row (``loyalty.club.notification``), empty when the club sends no
            message of this kind or the key was handled before
        """
        return self._notify_many([(card, kind, key, record, entry)])[0]

    @api.model
    def _notify_many(self, items):
        """:meth:`_notify` for many messages at once, with the same result as one after the other
        (in the order of ``items``: ``(card, kind, key, record, entry)``), in a fixed number of
        queries: one insert of the log rows, one count for the weekly cap, the messages rendered
        and queued per template in batch, one update of the log rows.

        :returns: the log row of each item (empty for the items that send nothing)
        """
        logs = [self.browse()] * len(items)
        todo = self._claim_new_messages(items)
        if not todo:
            return logs
        partners = self.env["res.partner"].sudo().browse([item["card"].partner_id.id for item in todo])
        sent = self._sent_last_week_counts(partners, [item["log_id"] for item in todo])
        mails, smses = defaultdict(list), defaultdict(list)
        templates = {}  # (channel, kind): template, looked up once per batch
        for item in todo:
            logs[item["index"]] = self.sudo().browse(item["log_id"])
            partner, club = item["card"].partner_id, item["card"].club_id
            if partner.loyalty_club_opt_out:
                item["values"]["state"] = "opted_out"
            elif club.notify_cap_per_week and sent.get(partner.id, 0) >= club.notify_cap_per_week:
                item["values"]["state"] = "capped"
            else:
                kind = item["kind"]
                for channel in ("mail", "sms"):
                    if (channel, kind) not in templates:
                        templates[channel, kind] = self._template(channel, kind)
                mail = club.notify_channel in ("mail", "both") and self._can_mail(partner) and templates["mail", kind]
                sms = club.notify_channel in ("sms", "both") and self._can_sms(partner) and templates["sms", kind]
                if mail:
                    mails[item["kind"]].append(item)
                if sms:
                    smses[item["kind"]].append(item)
                if mail or sms:
                    sent[partner.id] = sent.get(partner.id, 0) + 1  # the member's next messages count it
        for kind, queued in mails.items():
            for item, mail_id in zip(queued, self._queue_mails(templates["mail", kind], queued), strict=True):
                item["values"]["mail_id"] = mail_id
        for kind, queued in smses.items():
            for item, sms_id in zip(queued, self._queue_smses(templates["sms", kind], queued), strict=True):
                item["values"]["sms_id"] = sms_id
        for item in todo:
            values = item["values"]
            if "state" not in values and not values.get("mail_id") and not values.get("sms_id"):
                values["state"] = "no_address"
        self._write_log_values({item["log_id"]: item["values"] for item in todo})
        return logs

    @api.model
    def _claim_new_messages(self, items):
        """The items whose club sends their kind of message and whose key is new, each with its
        claimed log row (dicts: index, card, kind, key, record, entry, log_id, values)."""
        todo = []
        for index, (card, kind, key, record, entry) in enumerate(items):
            club = card.sudo().club_id
            if club.notify_channel != "none" and club[KIND_SWITCHES[kind]]:
                todo.append(
                    {"index": index, "card": card.sudo(), "kind": kind, "key": key, "record": record, "entry": entry}
                )
        if not todo:
            return []
        self.flush_model()
        claimed = self._claim_keys([(item["card"], item["kind"], item["key"], item["entry"]) for item in todo])
        result, seen = [], set()
        for item in todo:
            if item["key"] in claimed and item["key"] not in seen:  # a key twice: the first only
                seen.add(item["key"])
                result.append({**item, "log_id": claimed[item["key"]], "values": {}})
        return result

    @api.model
    def _write_log_values(self, values_by_log):
        """Update the log rows with their state and queued messages, in one statement."""
        rows = [(log_id, values) for log_id, values in values_by_log.items() if values]
        if not rows:
            return
        self.env.cr.execute(
            SQL(
                """UPDATE loyalty_club_notification n
                      SET state = COALESCE(v.state, n.state), mail_id = v.mail_id, sms_id = v.sms_id,
                          write_uid = %(uid)s, write_date = %(now)s
                     FROM unnest(%(ids)s::int[], %(states)s::varchar[], %(mails)s::int[], %(smses)s::int[])
                          AS v(id, state, mail_id, sms_id)
                    WHERE n.id = v.id""",
                uid=self.env.uid,
                now=fields.Datetime.now(),
                ids=[log_id for log_id, _values in rows],
                states=[values.get("state") for _log_id, values in rows],
                mails=[values.get("mail_id") for _log_id, values in rows],
                smses=[values.get("sms_id") for _log_id, values in rows],
            )
        )
        self.invalidate_model(["state", "mail_id", "sms_id", "write_uid", "write_date"])

    @api.model
    def _template(self, channel, kind):
        """The club's ``mail.template`` or ``sms.template`` of ``kind`` (empty if it was deleted)."""
        return (
            self.env.ref(f"loyalty_club.{channel}_template_{kind}", raise_if_not_found=False)
            or self.env[f"{channel}.template"]
        )

    @api.model
    def _can_mail(self, partner):
        return bool(partner.email_normalized and not partner.is_blacklisted)

    @api.model
    def _can_sms(self, partner):
        return bool(partner.phone_sanitized and not partner.phone_sanitized_blacklisted)

    @api.model
    def _queue_mails(self, template, items):
        """Queue the e-mail of ``template`` about the record of each item (``mail.mail`` in the
        outgoing queue, rendered in batch); the id of each mail."""
        return template.sudo().send_mail_batch([item["record"].id for item in items], force_send=False).ids

    @api.model
    def _queue_smses(self, template, items):
        """Queue the SMS of ``template`` about the record of each item to its member (``sms.sms``
        outgoing, sent by the SMS queue's cron; bodies rendered in batch); the id of each SMS."""
        bodies = template.sudo()._render_field("body", [item["record"].id for item in items], compute_lang=True)
        values = []
        for item in items:
            partner = item["card"].partner_id
            values.append(
                {"body": bodies[item["record"].id], "partner_id": partner.id, "number": partner.phone_sanitized}
            )
        return self.env["sms.sms"].sudo().create(values).ids

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
        # the longest reminder period of the clubs bounds the range read, in order, from the index
        # of open lots by expiry date (the per-club period alone would read every later lot)
        self.env["loyalty.club"].flush_model(["notify_expiring_days", "notify_expiring", "notify_channel"])
        self.env.cr.execute(
            """SELECT COALESCE(MAX(notify_expiring_days), 0) FROM loyalty_club
                WHERE notify_expiring AND notify_channel != 'none'"""
        )
        longest = self.env.cr.fetchone()[0]
        return SQL(
            """SELECT e.id FROM loyalty_club_entry e
                 JOIN loyalty_club club ON club.id = e.club_id
                 JOIN loyalty_club_card c ON c.id = e.card_id
                WHERE e.points_remaining > 0
                  AND e.expiry_date > %(today)s
                  AND e.expiry_date <= %(today)s::date + %(longest)s
                  AND e.expiry_date <= %(today)s::date + club.notify_expiring_days
                  AND club.notify_expiring AND club.notify_channel != 'none'
                  AND c.state = 'active'
                  AND NOT EXISTS (SELECT 1 FROM loyalty_club_notification n
                                   WHERE n.key = 'expiring:' || e.id)
             ORDER BY e.expiry_date, e.id
             %(limit)s""",
            today=today,
            longest=longest,
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
        self._notify_many([(lot.card_id, "expiring", f"expiring:{lot.id}", lot, None) for lot in lots])
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
