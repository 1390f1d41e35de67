"""The lines of the bypass matrix (TestBypassMatrix, test_bypass_matrix.py): the roles, every field the
addon defines and every public method, with what each role may do through them."""

MAGIC = {"id", "display_name", "create_uid", "create_date", "write_uid", "write_date"}
ROLES = ("cashier", "salesman", "billing", "club_user", "club_manager", "other_company", "portal", "admin")

# Every field the addon defines, per model (its own models, and the loyalty_ fields of Odoo's):
#   server  decided by the server (a PIN check, a computation, a state machine, the posting
#           service): refused on create and on write for every role, whatever the context sent
#   create  given when the record is created (the card of a wizard whose PIN is checked, the
#           invoice it pays), refused on write for every role
#   input   typed by a user with the model's rights (and checked by the server where it matters)
# SQL views ("report") are written by no role at all. A field without its line fails
# test_every_field_and_method_has_a_line.
FIELDS = {
    "loyalty.club": {
        "server": "has_legacy_numbers barcode_rule_id currency_id card_count ledger_audit_date ledger_audit_result "
        "pos_points_ready points_accounting_start points_booked_until",
        "input": "name active company_id earn_amount earn_points earn_rounding earn_on_tax_included "
        "earn_excluded_categ_ids negative_balance_policy redeem_min_points redeem_pin_required reward_product_id "
        "reward_ids tier_discount_mode point_value expiry_months pin_length pin_max_attempts pin_lock_minutes "
        "card_prefix phone_country_id customer_persian_digits tier_ids tier_metric tier_weight_points "
        "tier_weight_amount "
        "tier_weight_purchases tier_weight_referrals tier_window tier_window_months tier_grace_days discount_stacking "
        "discount_stacking_max bonus_rule_ids notify_channel notify_welcome notify_earned notify_tier "
        "notify_expiring notify_expiring_days notify_birthday notify_cap_per_week gift_card_validity_months "
        "gift_card_min_validity_months gift_card_product_id gift_card_account_id gift_card_journal_id "
        "earn_on_points_paid pending_days pos_hold_hours review_user_id rfm_window_days points_accounting "
        "points_journal_id points_liability_account_id points_revenue_account_id points_redemption_account_id "
        "points_expense_account_id points_opening_account_id points_accounting_value points_breakage "
        "points_accounting_grouping",
    },
    "loyalty.club.tier": {
        "server": "company_id card_count club_tier_metric threshold_display",
        "input": "name sequence color active club_id threshold earn_multiplier discount_percent",
    },
    "loyalty.club.card": {
        "server": "balance state pin_set pin_failed_attempts pin_locked pin_locked_until tier_id tier_since "
        "tier_grace_until replaced_by_id replaces_id company_id currency_id partner_phone_sanitized "
        "partner_email balance_value entry_ids entry_count tier_history_ids tier_metric_value next_tier_id "
        "next_tier_missing club_tier_metric tier_progress qr_code barcode_image points_held points_available "
        "points_pending hold_ids "
        "rfm_recency_days rfm_frequency rfm_monetary rfm_r rfm_f rfm_m rfm_group rfm_date",
        "create": "number legacy_number",
        # a member or club with ledger entries, and a recorded referrer, cannot change (write checks)
        "input": "club_id partner_id date_issued date_expiry referred_by_card_id",
    },
    "loyalty.club.entry": {
        "server": "card_id partner_id club_id company_id branch_id pos_config_id currency_id kind points "
        "points_remaining expiry_date date posting_key origin_model origin_id origin_reference reason reason_note "
        "reversed_entry_id lot_id amount purchase_count qualifying user_id chain_digest pending_until points_returned "
        "accounting_batch_ids",
    },
    "loyalty.club.lot.consumption": {"server": "debit_entry_id lot_id company_id points points_returned"},
    "loyalty.club.hold": {
        "server": "card_id gift_card_id company_id pos_config_id pos_session_id user_id order_uuid payment_uuid points "
        "amount currency_id payment_amount payment_currency_id state date_expiry date_done pos_order_id",
    },
    "loyalty.club.till.token": {
        "server": "token_hash card_model card_res_id pos_config_id company_id user_id order_uuid pin_fingerprint date "
        "date_used",
    },
    "loyalty.club.tier.history": {
        "server": "card_id partner_id company_id date old_tier_id new_tier_id reason note user_id",
    },
    "loyalty.club.qualifying.total": {
        "server": "card_id partner_id club_id company_id currency_id day points amount purchase_count",
    },
    "loyalty.club.reward": {
        "server": "company_id currency_id",
        "input": "name sequence active club_id reward_type points_cost discount_percent credit_amount product_id "
        "tier_ids",
    },
    "loyalty.club.discount.window": {
        "server": "company_id currency_id is_active_now",
        "input": "name active sequence color club_id discount_percent max_discount_amount product_category_ids "
        "date_from date_to mon tue wed thu fri sat sun hour_from hour_to tz branch_ids use_in_pos pos_config_ids "
        "use_in_sales team_ids tier_ids partner_category_ids",
    },
    "loyalty.club.discount.window.report": "report",
    "loyalty.club.adjust.wizard": {
        "server": "balance new_balance",
        "create": "card_id",
        "input": "delta reason",
    },
    "loyalty.club.card.replace.wizard": {
        "server": "partner_id balance",
        "create": "card_id",
        "input": "new_number",
    },
    "loyalty.club.pin.wizard": {
        "server": "pin_length pin_done",
        "create": "card_id",
        # the PIN is hashed onto the card by the inverse, with the card's access rights
        "input": "pin pin_confirm",
    },
    "loyalty.club.redeem.wizard": {
        "server": "club_id balance available_points points_cost pin_required pin_verified",
        "create": "order_id card_id",
        "input": "reward_id pin",
    },
    "loyalty.club.gift.card": {
        "server": "balance state pin_set pin_failed_attempts pin_locked pin_locked_until code_display code_masked "
        "company_id date_issued entry_ids qr_code amount_held balance_available",
        "create": "code",
        # club and currency cannot change once the card has entries (write checks)
        "input": "club_id currency_id partner_id date_expiry initial_amount",
    },
    "loyalty.club.gift.card.entry": {
        "server": "gift_card_id company_id branch_id pos_config_id currency_id kind amount balance_after date "
        "posting_key origin_model origin_id origin_reference reason reversed_entry_id user_id chain_digest",
    },
    "loyalty.club.gift.card.issue.wizard": {
        "server": "state line_ids csv_file csv_filename company_id",
        "input": "club_id currency_id count amount activate partner_id date_expiry",
    },
    "loyalty.club.gift.card.issue.line": {
        "server": "gift_card_id code pin",
        "input": "wizard_id",
    },
    "loyalty.club.gift.card.payment.wizard": {
        "server": "gift_card_id balance company_id currency_id card_currency_id",
        "create": "move_id",
        "input": "code pin amount",
    },
    "loyalty.club.gift.card.refund.wizard": {
        "server": "company_id currency_id allowed_gift_card_ids refundable",
        "create": "move_id",
        # must be a card that paid the credited invoice, at most what it paid (action_refund checks)
        "input": "gift_card_id amount",
    },
    "loyalty.club.gift.card.reveal.wizard": {
        "server": "revealed code",
        "create": "gift_card_id",
        "input": "reason",
    },
    "loyalty.club.activity.report": "report",
    "loyalty.club.liability.report": "report",
    "loyalty.club.accounting.batch": {
        "server": "club_id company_id branch_id currency_id date kind origin_model origin_id move_id entry_ids "
        "entry_count points outstanding_points point_value breakage amount balance",
    },
    "loyalty.club.member.report": "report",
    "loyalty.club.kpi.report": "report",
    "loyalty.club.liability.wizard": {"server": "line_ids", "input": "date company_ids"},
    "loyalty.club.liability.line": {
        "server": "source company_id branch_id currency_id points value booked expected account_balance difference",
        "input": "wizard_id",
    },
    "loyalty.club.bonus.rule": {
        "server": "company_id currency_id",
        "input": "name sequence active club_id kind points referred_points mission_purchases mission_amount "
        "mission_period nth birthday_guard_days",
    },
    "loyalty.club.notification": {
        "server": "key date club_id company_id partner_id card_id entry_id kind state mail_id sms_id sms_state "
        "sms_segments",
    },
    "loyalty.club.segment": {
        "server": "company_id currency_id member_count sms_campaign_ids sms_campaign_count",
        "input": "name active club_id tier_ids age_min age_max gender spend_min spend_max last_purchase_from "
        "last_purchase_to product_ids categ_ids branch_ids rfm_group",
    },
    "loyalty.club.sms.campaign": {
        "server": "name club_id company_id segment_id body keep_log use_blacklist state partner_ids member_count "
        "done_count sms_count skipped_count last_partner_id progress date_done stop_reason",
    },
    "loyalty.club.attempt": {"server": "date channel ip user_id pos_session_id code_hash"},
    "loyalty.club.pin.check": {"server": "date user_id card_model card_id res_model res_id"},
    "loyalty.club.phone.verification": {
        "server": "user_id partner_id phone purpose target_field state expires_at tries code_hash sms_id",
    },
    "loyalty.club.import.wizard": {
        "server": "company_id file_checksum header_json state native_loyalty_installed row_count rows_done "
        "progress error_count warning_count new_partner_count matched_partner_count new_card_count "
        "existing_card_count opening_count opening_points unchanged_count stop_reason line_ids error_report "
        "error_report_name template_file template_name",
        "input": "club_id import_file filename keep_legacy_numbers batch_size",
    },
    "loyalty.club.import.line": {
        "server": "line_number column severity message value row_values",
        "input": "wizard_id",
    },
    "loyalty.club.native.migration.wizard": {
        "server": "company_id native_loyalty_installed state line_ids moved_card_count moved_points "
        "moved_gift_card_count already_count skipped_count",
        "input": "club_id migrate_loyalty migrate_ewallet migrate_gift_card archive_native",
    },
    "loyalty.club.native.migration.line": {
        "server": "native_card_id native_code native_program program_type partner_id native_balance card_id "
        "gift_card_id points currency_id amount result reason",
        "input": "wizard_id",
    },
    "loyalty.club.coalition.partner": {
        "server": "name company_id currency_id transaction_ids transaction_count settlement_ids settlement_count",
        # the club cannot change once the partner has transactions (write checks); users must be
        # portal users of the business (constraint)
        "input": "active club_id partner_id point_rate allow_earning earn_amount earn_points user_ids account_id",
    },
    "loyalty.club.coalition.transaction": {
        "server": "coalition_partner_id club_id company_id currency_id card_id member_id kind points "
        "purchase_amount value user_id date request_uuid entry_id settlement_id state cancel_entry_id",
    },
    "loyalty.club.coalition.settlement": {
        "server": "name coalition_partner_id partner_id club_id company_id currency_id date_from date_to "
        "transaction_ids points_redeemed points_earned amount_redeemed amount_earned amount_net move_id state",
    },
    # Odoo's models: the club's fields on them
    "sale.order": {
        "server": "loyalty_confirmations loyalty_shortfall loyalty_tier_id loyalty_balance loyalty_points_estimate "
        "loyalty_points_net loyalty_points_reserved loyalty_tier_discount_note commercial_partner_id "
        "loyalty_points_kept loyalty_has_discount",
        # a card of the order's customer, never another card under reward lines (constraint)
        "input": "loyalty_card_id",
    },
    "sale.order.line": {
        "server": "loyalty_gift_card_ids loyalty_points loyalty_points_reversed loyalty_reward_id "
        "loyalty_reward_points loyalty_reward_card_id loyalty_tier_discount_line loyalty_member_discount "
        "loyalty_discount_window_id loyalty_window_percent loyalty_window_discount_amount loyalty_is_gift_card "
        "loyalty_earning_base",
        # the code of a pre-printed card to load, checked at confirmation
        "input": "loyalty_gift_card_code",
    },
    "res.partner": {
        "server": "loyalty_birthday_changed_on loyalty_club_card_count loyalty_balance loyalty_segment_ids "
        "loyalty_club_partner_count",
        # cards are written through their own model (its protections apply)
        "input": "loyalty_card_ids loyalty_birthday loyalty_gender loyalty_club_opt_out",
    },
    "product.template": {"input": "loyalty_club_no_earn loyalty_gift_card"},
    "pos.payment.method": {"input": "loyalty_club_points loyalty_gift_card"},
    "barcode.rule": {"input": "type"},
    "pos.order": {
        "server": "loyalty_card_id loyalty_card_display loyalty_tier_name loyalty_points_earned "
        "loyalty_points_redeemed loyalty_points_returned loyalty_points_reversed loyalty_shortfall "
        "loyalty_balance_after loyalty_review_state loyalty_review_reason loyalty_review_booked "
        "loyalty_club_client_data",
    },
    "account.move": {"server": "loyalty_post_count"},
    "sale.order.cancel": {"server": "loyalty_points_kept_alert"},
    "pos.order.line": {
        "server": "loyalty_points loyalty_points_reversed loyalty_member_discount loyalty_discount_window_id "
        "loyalty_discount_window_name loyalty_window_discount_amount loyalty_gift_card_ids "
        "loyalty_gift_card_codes",
    },
    # the gateway's answers and delivery reports (issue 21); failure_type is Odoo's field, written by
    # Odoo's own screens (Retry, Cancel): the addon only adds the delivery failure codes to it
    "sms.sms": {
        "server": "loyalty_gateway loyalty_gateway_ref loyalty_gateway_status loyalty_sms_segments",
        "input": "failure_type",
    },
    # system parameters: the settings are for system administrators only (model rights)
    "res.config.settings": {
        "input": "loyalty_sms_provider loyalty_sms_kavenegar_api_key loyalty_sms_kavenegar_sender "
        "loyalty_sms_smsir_api_key loyalty_sms_smsir_sender loyalty_sms_rate loyalty_sms_callback_token "
        "loyalty_sms_test_number",
    },
    "pos.payment": {
        "server": "loyalty_gift_card_id loyalty_gift_card_display loyalty_gift_card_balance loyalty_gift_card_new_code",
    },
}

# Every public method the addon defines (ORM overrides aside: create, write, unlink, copy_data,
# default_get and init are covered by the field lines and the access matrix), with the roles that
# may move points, money, a PIN or a card through it when they call it on another customer's
# records or on a wizard they filled with forged values (no PIN typed):
#   -        nobody (an action window, a report, a lookup, or refused without the holder's secret)
#   roles    those roles (the business operation itself, e.g. a manager blocking a card)
METHODS = {
    # a credit note reset to draft gives back what it took back: the billing users' business
    "account.move": {
        "action_loyalty_pay_with_gift_card": "-",
        "action_loyalty_refund_to_gift_card": "-",
        "button_draft": "billing admin",
    },
    # booking a flagged order's club part after a review: the club managers' decision
    "pos.order": {
        "action_loyalty_club_book": "club_manager",
        "action_loyalty_club_dismiss": "-",
        "action_pos_order_cancel": "-",
    },
    "loyalty.club": {
        "action_setup_pos_payment_method": "-",
        "action_setup_gift_cards": "-",
        "action_setup_points_accounting": "-",
        "action_compute_breakage": "-",
        "action_open_points_batches": "-",
        "action_audit_ledgers": "-",
        "action_open_cards": "-",
    },
    "loyalty.club.card": {
        "action_block": "club_user club_manager",
        "action_unblock": "club_user club_manager",
        "action_unlock_pin": "-",  # failures and lock only (managers); the PIN itself never changes
        "action_open_replace_wizard": "-",
        "action_open_adjust_wizard": "-",
        "action_open_pin_wizard": "-",
        "action_audit_chain": "-",
        "action_view_entries": "-",
    },
    "loyalty.club.gift.card": {
        "action_block": "club_user club_manager",
        "action_unblock": "club_user club_manager",
        "action_unlock_pin": "-",
        "action_new_pin": "club_manager",  # a card with a PIN: managers only (it shows the code again)
        "action_reveal_code": "-",
        "action_audit_chain": "-",
        "action_view_entries": "-",
    },
    "loyalty.club.segment": {
        "action_view_members": "-",
        "action_send_mail": "-",
        "action_send_sms": "-",
        "action_view_sms_campaigns": "-",
    },
    # stopping the batches of a campaign not queued yet: nothing of the club moves
    "loyalty.club.sms.campaign": {"action_cancel": "-"},
    # a segment's campaign is queued by batches (club managers); nothing of the club moves
    "sms.composer": {"action_send_sms": "-"},
    "pos.config": {
        "loyalty_club_find_card": "-",
        "loyalty_club_verify_pin": "-",
        "loyalty_club_discount_windows": "-",
        "loyalty_gift_card_find": "-",
        "loyalty_gift_card_verify_pin": "-",
        # holds need the token of a PIN check for that order; releasing one moves nothing booked
        "loyalty_club_hold_points": "-",
        "loyalty_gift_card_hold": "-",
        "loyalty_club_release_holds": "-",
        "get_limited_partners_loading": "-",
    },
    "res.partner": {"action_view_loyalty_club_cards": "-", "action_view_loyalty_club_partner": "-"},
    # settling a month with a partner makes a draft bill or invoice: no points nor money move
    "loyalty.club.coalition.partner": {
        "action_view_transactions": "-",
        "action_view_settlements": "-",
        "action_settle_last_month": "-",
    },
    # billing a settlement again makes a draft bill or invoice of the amounts it settled
    "loyalty.club.coalition.settlement": {"action_view_move": "-", "action_make_move": "-"},
    # undoing a partner transaction gives back (or takes back) its points: club managers
    "loyalty.club.coalition.transaction": {"action_cancel": "club_manager"},
    # confirming a quotation earns its customer's points and spends its reward lines' points, which
    # were reserved with the member's PIN: the salesmen's business (they have the rights on orders)
    "sale.order": {
        "action_confirm": "salesman club_manager",
        "action_loyalty_use_points": "-",
        "action_view_gift_cards": "-",
    },
    # Odoo's SMS queue, sent per batch through the chosen gateway: nothing of the club moves
    "sms.sms": {"send": "-"},
    # a test SMS and the gateway's credit: administrators only, nothing of the club moves
    "res.config.settings": {"action_loyalty_sms_test": "-", "action_loyalty_sms_credit": "-", "get_values": "-"},
    "loyalty.club.adjust.wizard": {"action_apply": "club_manager"},
    # replacing a card moves its points to the member's new card: club staff's business
    "loyalty.club.card.replace.wizard": {"action_replace": "club_user club_manager"},
    # issuing (loaded) gift cards: managers
    "loyalty.club.gift.card.issue.wizard": {"action_issue": "club_manager", "action_print": "-", "action_done": "-"},
    "loyalty.club.gift.card.payment.wizard": {"action_pay": "-"},
    "loyalty.club.gift.card.refund.wizard": {"action_refund": "-"},
    "loyalty.club.gift.card.reveal.wizard": {"action_reveal": "-", "action_print": "-"},
    "loyalty.club.import.wizard": {
        "action_check": "-",
        "action_import": "-",
        "action_refresh": "-",
        "action_restart": "-",
        "action_discard": "-",
        "action_download_csv_template": "-",
        "action_download_xlsx_template": "-",
        "action_open_native_migration": "-",
    },
    "loyalty.club.liability.wizard": {"action_compute": "-"},
    "loyalty.club.accounting.batch": {"action_view_entries": "-"},
    "loyalty.club.native.migration.wizard": {"action_migrate": "-"},
    "loyalty.club.pin.wizard": {"action_set_pin": "-"},
    "loyalty.club.redeem.wizard": {"action_apply": "-"},
}
ORM_METHODS = {"create", "write", "unlink", "copy", "copy_data", "default_get", "init"}
# Arguments of the methods that take some (forged: another customer's card, a wrong PIN).
ARGS = {
    "loyalty_club_find_card": lambda case: [case.victim_card.number],
    "loyalty_club_verify_pin": lambda case: [case.victim_card.id, "0000"],
    "loyalty_gift_card_find": lambda case: [case.victim_gift.sudo().code],
    "loyalty_gift_card_verify_pin": lambda case: [case.victim_gift.id, "000000"],
    "loyalty_club_hold_points": lambda case: [case.victim_card.id, 10, "bp-order", "bp-payment", "forged-token"],
    "loyalty_gift_card_hold": lambda case: [case.victim_gift.id, 10.0, "bp-order", "bp-payment", "forged-token"],
    "loyalty_club_release_holds": lambda case: [["bp-victim-payment"]],
}
SNAPSHOT = """
    SELECT (SELECT count(*) || ':' || COALESCE(SUM(points), 0) FROM loyalty_club_entry),
           (SELECT count(*) || ':' || COALESCE(SUM(amount), 0) FROM loyalty_club_gift_card_entry),
           (SELECT md5(string_agg(concat_ws(',', id, balance, state, pin_hash, pin_set, partner_id, club_id,
                                            number, tier_id, replaced_by_id), ';' ORDER BY id))
              FROM loyalty_club_card),
           (SELECT md5(string_agg(concat_ws(',', id, balance, state, pin_hash, pin_set, partner_id, code,
                                            date_expiry), ';' ORDER BY id))
              FROM loyalty_club_gift_card),
           (SELECT count(*) FROM account_payment)
"""
