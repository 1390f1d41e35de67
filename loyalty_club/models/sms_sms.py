import logging
from datetime import timedelta

import pytz

from odoo import api, fields, models, tools

from ..tools.sms_gateway import DEFAULT_URLS, GATEWAYS, GatewayError, sms_segments, to_e164

_logger = logging.getLogger(__name__)

PARAM = "loyalty_club.sms_"
PROVIDERS = [("iap", "Odoo IAP"), ("kavenegar", "Kavenegar"), ("smsir", "SMS.ir")]
# gateway status of an SMS whose send answer was lost: "lost:<UTC time>" (it may have been sent)
LOST = "lost:"
# ... and of one the gateway's report showed was not sent after all: a Retry sends it
NOT_SENT = "not sent"
# a lost send is looked up in the gateway's report once it is this old (the report may lag)
LOST_SETTLE = timedelta(minutes=2)
# delivery failures a gateway reports later (Odoo's codes of mail.notification, also on sms.sms)
DELIVERY_FAILURES = [
    ("sms_not_delivered", "Not Delivered"),
    ("sms_not_allowed", "Not Allowed"),
    ("sms_expired", "Expired"),
]


class SmsSms(models.Model):
    """Odoo's SMS queue, sent through the gateway chosen in the settings (issue 21).

    With *Odoo IAP* (the default) nothing changes. With a local gateway, ``_send`` (called by
    ``send`` per batch of ``sms.session.batch.size``, as for IAP) hands the batch to the gateway's
    bulk endpoint and records each message's gateway id; an SMS with a gateway id is never sent
    again. Accepted messages stay *Sent* (``pending``) and are kept until their delivery report
    (callback or polling) makes them *Delivered* or *Error* with Odoo's failure codes, so the
    usual failure screens and the notifications of ``sms.tracker`` follow.
    """

    _name = "sms.sms"
    _inherit = ["sms.sms", "loyalty.club.protected.mixin"]

    failure_type = fields.Selection(selection_add=DELIVERY_FAILURES)
    loyalty_gateway = fields.Selection(
        [(code, label) for code, label in PROVIDERS if code != "iap"], "Gateway", readonly=True, copy=False
    )
    loyalty_gateway_ref = fields.Char("Gateway message id", readonly=True, copy=False, index="btree_not_null")
    loyalty_gateway_status = fields.Char("Gateway status", readonly=True, copy=False)
    loyalty_sms_segments = fields.Integer(
        "SMS segment count", compute="_compute_loyalty_sms_segments", store=True, help="SMS parts the operator bills."
    )

    def init(self):
        """Index of the delivery polling: the gateway's messages not final yet (a few among the
        delivered ones kept for the log)."""
        result = super().init()
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS sms_sms_loyalty_pending_idx ON sms_sms (loyalty_gateway, id)
                WHERE loyalty_gateway IS NOT NULL AND state IN ('pending', 'process')"""
        )
        return result

    @api.depends("body")
    def _compute_loyalty_sms_segments(self):
        for sms in self:
            sms.loyalty_sms_segments = sms_segments(sms.body)

    # ------------------------------------------------------------------
    # Gateway
    # ------------------------------------------------------------------
    @api.model
    def _loyalty_sms_provider(self):
        return self.env["ir.config_parameter"].sudo().get_param(PARAM + "provider") or "iap"

    @api.model
    def _loyalty_sms_gateway(self, provider=None):
        """A client of the configured gateway (``None`` for Odoo IAP)."""
        provider = provider or self._loyalty_sms_provider()
        if provider not in GATEWAYS:
            return None
        get = self.env["ir.config_parameter"].sudo().get_param
        return GATEWAYS[provider](
            api_key=get(f"{PARAM}{provider}_api_key"),
            sender=get(f"{PARAM}{provider}_sender"),
            base_url=get(f"{PARAM}{provider}_url") or DEFAULT_URLS[provider],
            timeout=float(get(PARAM + "timeout") or 10.0),
            retries=int(get(PARAM + "retries") or 3),
            backoff=float(get(PARAM + "backoff") or 1.0),
            rate=float(get(PARAM + "rate") or 0.0),
        )

    @api.model
    def _loyalty_local_id(self, sms_id):
        """The local id sent with an SMS: the same for every attempt, so the gateway sends it once."""
        return str(sms_id)

    def send(self, unlink_failed=False, unlink_sent=True, auto_commit=False, raise_exception=False):
        """Through a local gateway, Odoo's ``send`` runs per batch and each batch then leaves the ORM
        cache: a campaign of any size never holds more than one batch of SMS in memory."""
        if self._loyalty_sms_provider() not in GATEWAYS:
            return super().send(unlink_failed, unlink_sent, auto_commit, raise_exception)
        for batch_ids in self._split_batch():
            batch = self.browse(batch_ids)
            super(SmsSms, batch).send(unlink_failed, unlink_sent, auto_commit, raise_exception)
            batch.invalidate_recordset()
        return None

    def _send(self, unlink_failed=False, unlink_sent=True, raise_exception=False):
        gateway = self._loyalty_sms_gateway()
        if gateway is None:
            return super()._send(unlink_failed=unlink_failed, unlink_sent=unlink_sent, raise_exception=raise_exception)
        return self._loyalty_gateway_send(gateway, unlink_failed=unlink_failed, raise_exception=raise_exception)

    def _loyalty_gateway_send(self, gateway, unlink_failed=False, raise_exception=False):
        """Send this batch through ``gateway``: numbers checked and converted, then requests of the
        gateway's bulk size at the configured rate; each result recorded on its SMS at once."""
        sms_sudo = self.sudo().with_context(sms_skip_msg_notification=True)
        # an SMS the gateway accepted already is never sent again (Odoo's Retry puts it back to Sent)
        accepted = sms_sudo.filtered("loyalty_gateway_ref")
        accepted.write({"state": "pending", "failure_type": False})
        sms_sudo -= accepted
        outcome = {}  # sms id -> values to write
        lost = sms_sudo.filtered(lambda sms: (sms.loyalty_gateway_status or "").startswith(LOST))
        if lost and not gateway.has_local_id:
            # sent again only when the gateway's report shows it was not sent (no double send)
            found, not_sent = self._loyalty_find_lost(gateway, lost)
            outcome.update(found)
            outcome.update(
                {
                    sms.id: {
                        "state": "error",
                        "failure_type": "sms_server",
                        "loyalty_gateway_status": sms.loyalty_gateway_status,
                    }
                    for sms in lost - not_sent
                    if sms.id not in found
                }
            )
            sms_sudo -= lost - not_sent
        messages = []
        for sms in sms_sudo:
            e164 = to_e164(sms.number)
            number = e164 and gateway.gateway_number(e164)
            if not sms.number:
                outcome[sms.id] = {"state": "error", "failure_type": "sms_number_missing"}
            elif not e164:
                outcome[sms.id] = {"state": "error", "failure_type": "sms_number_format"}
            elif not number:
                outcome[sms.id] = {"state": "error", "failure_type": "sms_country_not_supported"}
            else:
                messages.append({"sms": sms, "number": number, "body": sms.body or "", "local_id": str(sms.id)})
        groups = [messages]
        if gateway.same_body:
            groups = [[m for m in messages if m["body"] == body] for body in dict.fromkeys(m["body"] for m in messages)]
        stop = None  # an account-wide refusal (key, credit): the rest of the batch is not tried
        for group in groups:
            for start in range(0, len(group), gateway.batch_size()):
                chunk = group[start : start + gateway.batch_size()]
                if stop:
                    outcome.update({m["sms"].id: {"state": "error", "failure_type": stop} for m in chunk})
                    continue
                try:
                    results = self._loyalty_send_chunk(gateway, chunk)
                except GatewayError as error:
                    _logger.info("SMS %s: %s messages not sent: %s", gateway.name, len(chunk), error)
                    if raise_exception:
                        raise
                    if error.failure_type in ("sms_acc", "sms_credit"):
                        stop = error.failure_type
                    status = f"{LOST}{fields.Datetime.to_string(fields.Datetime.now())}" if error.lost else ""
                    results = [
                        {"failure_type": error.failure_type, "status": status or str(error.code or "")} for _m in chunk
                    ]
                for message, result in zip(chunk, results, strict=True):
                    outcome[message["sms"].id] = self._loyalty_result_values(gateway, result)
        self._loyalty_apply_outcome(outcome, unlink_failed)
        # the batch leaves the ORM cache: a campaign's memory stays flat from batch to batch
        self.env.flush_all()
        self.invalidate_recordset()

    @api.model
    def _loyalty_send_chunk(self, gateway, chunk):
        """Results of one request; a refused number in a bulk request (the gateway does not say which)
        sends the messages one by one (safe: same local ids; SMS.ir: nothing was sent)."""
        try:
            return gateway.send(chunk)
        except GatewayError as error:
            if not error.per_number or len(chunk) == 1:
                raise
        results = []
        for message in chunk:
            try:
                results += gateway.send([message])
            except GatewayError as error:
                if not error.per_number:
                    raise
                results.append({"failure_type": error.failure_type, "status": str(error.code or "")})
        return results

    @api.model
    def _loyalty_result_values(self, gateway, result):
        if result.get("failure_type"):
            values = {
                "state": "error",
                "failure_type": result["failure_type"],
                "loyalty_gateway_status": result["status"],
            }
            if result["status"].startswith(LOST):
                values["loyalty_gateway"] = gateway.name  # the gateway whose report may show it
            return values
        # the status the gateway gives at once (Kavenegar: queued), none for SMS.ir: Sent (pending)
        state, failure_type = gateway.map_status(result["status"]) if result["status"] else ("pending", False)
        return {
            "state": state,
            "failure_type": failure_type,
            "loyalty_gateway": gateway.name,
            "loyalty_gateway_ref": result["ref"],
            "loyalty_gateway_status": result["status"],
        }

    @api.model
    def _loyalty_apply_outcome(self, outcome, unlink_failed=False):
        """Write the results grouped by values, update the trackers (notifications) as Odoo does."""
        all_sms = self.env["sms.sms"].sudo().browse(list(outcome)).with_context(sms_skip_msg_notification=True)
        by_values = {}
        for sms_id, values in outcome.items():
            key = tuple(sorted((k, v) for k, v in values.items() if k != "loyalty_gateway_ref"))
            by_values.setdefault(key, []).append(sms_id)
        for key, sms_ids in by_values.items():
            values = dict(key)
            batch = all_sms.browse(sms_ids)
            refs = {sms_id: outcome[sms_id].get("loyalty_gateway_ref") for sms_id in sms_ids}
            if values["state"] == "error":
                delivery = values["failure_type"] in dict(DELIVERY_FAILURES)
                if delivery:
                    batch.sms_tracker_id._action_update_from_provider_error(values["failure_type"][4:])
                else:
                    batch.sms_tracker_id._action_update_from_sms_state("error", failure_type=values["failure_type"])
                if unlink_failed and not any(refs.values()):
                    values["to_delete"] = True
            else:
                batch.sms_tracker_id._action_update_from_sms_state(values["state"])
            batch.write(values)
            if any(refs.values()):
                # one statement for the batch's gateway ids (a write per SMS costs a statement each)
                self.env.flush_all()
                self.env.cr.execute(
                    """
                    UPDATE sms_sms SET loyalty_gateway_ref = v.ref
                      FROM unnest(%s::int[], %s::varchar[]) AS v(id, ref)
                     WHERE sms_sms.id = v.id
                    """,
                    [list(refs), list(refs.values())],
                )
                batch.invalidate_recordset(["loyalty_gateway_ref"])
        all_sms.mail_message_id._notify_message_notification_update()

    @api.model
    def _loyalty_find_lost(self, gateway, lost):
        """SMS of ``gateway`` whose send answer was lost, looked up in the gateway's report of
        today: ``({sms id: values of a sent SMS}, SMS shown as not sent)``. Those found keep their
        gateway id and are never sent again; the others of today (settled ``LOST_SETTLE``) may be
        sent; those of another day, too recent, or if the report can't be read are neither."""
        tz = pytz.timezone(gateway.report_tz)
        now = fields.Datetime.now()
        today = pytz.utc.localize(now).astimezone(tz).date()

        def lost_at(sms):
            try:
                return fields.Datetime.to_datetime(sms.loyalty_gateway_status[len(LOST) :])
            except ValueError:
                return None

        candidates = lost.filtered(
            lambda sms: (
                sms.loyalty_gateway == gateway.name
                and lost_at(sms)
                and pytz.utc.localize(lost_at(sms)).astimezone(tz).date() == today
                and lost_at(sms) <= now - LOST_SETTLE
            )
        )
        if not candidates:
            return {}, self.browse()
        try:
            sent = gateway.sent_today()
        except (GatewayError, NotImplementedError) as error:
            _logger.info("SMS %s: today's report not read, %s lost sends kept: %s", gateway.name, len(lost), error)
            return {}, self.browse()
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT loyalty_gateway_ref FROM sms_sms WHERE loyalty_gateway = %s AND loyalty_gateway_ref = ANY(%s)",
            [gateway.name, [ref for refs in sent.values() for ref in refs]],
        )
        known = {row[0] for row in self.env.cr.fetchall()}
        found, not_sent = {}, self.browse()
        for sms in candidates:
            refs = [ref for ref in sent.get((to_e164(sms.number), sms.body or ""), []) if ref not in known]
            if refs:
                known.add(refs[0])
                found[sms.id] = self._loyalty_result_values(gateway, {"ref": refs[0], "status": ""})
            else:
                not_sent |= sms
        return found, not_sent

    @api.model
    def _loyalty_reconcile_lost(self, gateway, limit=5000):
        """The job's part: today's lost sends the report shows become *Sent* with their gateway id;
        the others are marked *not sent*, so that Odoo's *Retry* sends them. The count found."""
        lost = self.sudo().search(
            [
                ("loyalty_gateway", "=", gateway.name),
                ("state", "=", "error"),
                ("loyalty_gateway_status", "=like", LOST + "%"),
            ],
            limit=limit,
            order="id",
        )
        if not lost or gateway.has_local_id:
            return 0
        found, not_sent = self._loyalty_find_lost(gateway, lost)
        self._loyalty_apply_outcome(found)
        not_sent.write({"loyalty_gateway_status": NOT_SENT})
        return len(found)

    # ------------------------------------------------------------------
    # Delivery reports
    # ------------------------------------------------------------------
    @api.model
    def _loyalty_update_statuses(self, provider, statuses):
        """Apply delivery reports ``{gateway id: raw status}`` of ``provider``; unknown ids ignored.
        The number of messages updated."""
        gateway_cls = GATEWAYS[provider]
        sms_sudo = self.sudo().search(
            [("loyalty_gateway", "=", provider), ("loyalty_gateway_ref", "in", [str(ref) for ref in statuses])]
        )
        outcome = {}
        for sms in sms_sudo:
            raw = str(statuses[sms.loyalty_gateway_ref])
            state, failure_type = gateway_cls.STATUSES.get(raw, ("pending", False))
            if sms.state in ("sent", "canceled") or (sms.state == state and sms.loyalty_gateway_status == raw):
                continue  # final already, or nothing new
            outcome[sms.id] = {
                "state": state,
                "failure_type": failure_type,
                "loyalty_gateway_status": raw,
                "loyalty_gateway_ref": sms.loyalty_gateway_ref,
            }
        self._loyalty_apply_outcome(outcome)
        return len(outcome)

    @api.model
    def _cron_loyalty_poll_statuses(self, limit=5000):
        """Ask the gateway the status of messages sent in the last 3 days and not final yet; then
        leave the delivered messages older than ``loyalty_club.sms_keep_days`` (30) to Odoo's garbage
        collection, as the IAP path does at once (their notifications stay)."""
        provider = self._loyalty_sms_provider()
        self._loyalty_gc_delivered()
        gateway = self._loyalty_sms_gateway(provider)
        if gateway is None:
            return 0
        self._loyalty_reconcile_lost(gateway)
        pending = self.sudo().search(
            [
                ("loyalty_gateway", "=", provider),
                ("state", "in", ("pending", "process")),
                ("loyalty_gateway_ref", "!=", False),
                ("write_date", ">=", fields.Datetime.subtract(fields.Datetime.now(), days=3)),
            ],
            limit=limit,
            order="id",
        )
        updated = 0
        for refs in tools.split_every(500, pending.mapped("loyalty_gateway_ref")):
            try:
                statuses = gateway.statuses(list(refs))
            except GatewayError as error:
                _logger.warning("SMS %s: statuses not read: %s", provider, error)
                break
            updated += self._loyalty_update_statuses(provider, {ref: raw for ref, (_s, _f, raw) in statuses.items()})
        return updated

    @api.model
    def _loyalty_gc_delivered(self):
        keep_days = int(self.env["ir.config_parameter"].sudo().get_param(PARAM + "keep_days") or 30)
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE sms_sms SET to_delete = TRUE
             WHERE loyalty_gateway IS NOT NULL AND state = 'sent' AND to_delete IS NOT TRUE
               AND write_date < (now() AT TIME ZONE 'UTC') - make_interval(days => %s)
            """,
            [keep_days],
        )
        self.invalidate_model(["to_delete"])
        return self.env.cr.rowcount
