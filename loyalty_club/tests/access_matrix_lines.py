"""The lines of the access matrix (TestAccessMatrix, test_access_matrix.py): the roles, their
rights on every model of the addon and what they get from every route, POS RPC and report."""

ROLES = (
    "cashier_a",
    "cashier_b",
    "salesman",
    "club_user",
    "club_manager",
    "other_company",
    "portal_x",
    "public",
)

# Model-level rights of each role: r(ead) w(rite) c(reate) u(nlink). One line per model of the
# addon; `test_every_model_is_in_the_matrix` fails when a model is added without its line.
MATRIX = {
    "loyalty.club": "r     r     -     r     rwcu  rwcu  -     -",
    "loyalty.club.tier": "r     r     -     r     rwcu  rwcu  -     -",
    "loyalty.club.card": "-     -     -     rwc   rwcu  rwcu  r     -",
    "loyalty.club.entry": "-     -     -     r     r     r     r     -",
    "loyalty.club.tier.history": "-     -     -     r     r     r     -     -",
    "loyalty.club.qualifying.total": "-     -     -     r     r     r     -     -",
    "loyalty.club.lot.consumption": "-     -     -     r     r     r     -     -",
    "loyalty.club.reward": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.discount.window": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.discount.window.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.adjust.wizard": "-     -     -     -     rwc   rwc   -     -",
    "loyalty.club.card.replace.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.pin.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.redeem.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.gift.card": "r     r     -     rwc   rwcu  rwcu  r     -",
    "loyalty.club.gift.card.entry": "-     -     -     r     r     r     -     -",
    "loyalty.club.gift.card.issue.wizard": "-     -     -     rwcu  rwcu  rwcu  -     -",
    "loyalty.club.gift.card.issue.line": "-     -     -     rwcu  rwcu  rwcu  -     -",
    "loyalty.club.gift.card.payment.wizard": "-     -     -     -     -     -     -     -",
    "loyalty.club.gift.card.refund.wizard": "-     -     -     -     -     -     -     -",
    "loyalty.club.activity.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.liability.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.member.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.kpi.report": "-     -     -     r     r     r     -     -",
    "loyalty.club.liability.wizard": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.liability.line": "-     -     -     rwc   rwc   rwc   -     -",
    "loyalty.club.accounting.batch": "-     -     -     r     r     r     -     -",
    "loyalty.club.bonus.rule": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.notification": "-     -     -     r     r     r     -     -",
    "loyalty.club.segment": "-     -     -     r     rwcu  rwcu  -     -",
    # created and moved on by the server only (composer, job); managers cancel (write is protected)
    "loyalty.club.sms.campaign": "-     -     -     r     rw    rw    -     -",
    "loyalty.club.attempt": "-     -     -     -     -     -     -     -",
    "loyalty.club.import.wizard": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.import.line": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.native.migration.wizard": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.native.migration.line": "-     -     -     -     rwcu  rwcu  -     -",
    "loyalty.club.hold": "-     -     -     r     r     r     -     -",
    "loyalty.club.till.token": "-     -     -     -     -     -     -     -",
    "loyalty.club.pin.check": "-     -     -     -     -     -     -     -",
    "loyalty.club.phone.verification": "-     -     -     -     -     -     -     -",
    "loyalty.club.gift.card.reveal.wizard": "-     -     -     -     rwc   rwc   -     -",
    # partners' users reach their page through the controller (sudo, own partner only), not the models
    "loyalty.club.coalition.partner": "-     -     -     r     rwcu  rwcu  -     -",
    "loyalty.club.coalition.transaction": "-     -     -     r     r     r     -     -",
    "loyalty.club.coalition.settlement": "-     -     -     r     r     r     -     -",
}
# Models without access rules on purpose: services with no table.
NO_TABLE = {
    "loyalty.club.posting",
    "loyalty.club.pin.mixin",
    "loyalty.club.cached.settings.mixin",
    "loyalty.club.protected.mixin",
    # the dashboard is a client action: its model only computes figures through the reports
    "loyalty.club.dashboard",
}

OPERATIONS = {"r": "read", "w": "write", "c": "create", "u": "unlink"}

# What each role gets from every HTTP/JSON route of the addon, its POS RPCs and its reports, asked
# about the portal customer X's card and gift card. One line per route (method and path as
# declared), RPC and report; `test_every_route_is_in_the_matrix` fails when one is missing.
# Card PDFs are printed in the back office (club users and managers); customers read their card on
# the portal and their own gift cards' PDF.
#   ok     the answer with X's card (or the form, or the RPC's result)
#   page   the page, without anything of X's card      404    not found (X's card is not theirs)
#   sent   done, redirected back to the club page        login  redirected to log in / session expired
#   deny   access refused (AccessError / 403)
ROUTES = {
    "GET /giftcard/balance": "ok    ok    ok    ok    ok    ok    ok    ok",
    "POST /giftcard/balance": "ok    ok    ok    ok    ok    ok    ok    ok",
    "GET,POST /my/club": "page  page  page  page  page  page  ok    login",
    "GET,POST /my/club/card/<int:card_id>/history": "404   404   404   404   404   404   ok    login",
    "GET,POST /my/club/card/<int:card_id>/history/page/<int:page>": "404   404   404   404   404   404   ok    login",
    "GET /my/club/card/<int:card_id>/pin": "404   404   404   404   404   404   ok    login",
    "POST /my/club/card/<int:card_id>/pin": "404   404   404   404   404   404   ok    login",
    "POST /my/club/card/<int:card_id>/pin/email": "404   404   404   404   404   404   sent  login",
    "GET,POST /my/club/pin/reset": "page  page  page  page  page  page  ok    login",
    "POST /my/club/join": "page  page  page  page  page  page  sent  login",
    "POST /my/club/join/confirm": "sent  sent  sent  sent  sent  sent  sent  login",
    "GET,POST /my/club/phone": "404   404   404   404   404   404   ok    login",
    "POST /my/club/phone/confirm": "404   404   404   404   404   404   page  login",
    "RPC pos.config.loyalty_club_find_card": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_club_verify_pin": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_club_discount_windows": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_gift_card_find": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_gift_card_verify_pin": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_club_hold_points": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_gift_card_hold": "ok    deny  deny  deny  deny  deny  deny  login",
    "RPC pos.config.loyalty_club_release_holds": "ok    deny  deny  deny  deny  deny  deny  login",
    # a delivery report with a wrong token (the gateway's callback)
    "GET,POST /loyalty_club/sms/status/<string:provider>/<string:token>": "deny  deny  deny  deny  deny  deny  deny "
    "deny",
    # the page of a coalition partner: its own portal users only (none of these roles)
    "GET /my/club/partner": "404   404   404   404   404   404   404   login",
    "GET /my/club/partner/<int:coalition_id>": "404   404   404   404   404   404   404   login",
    "POST /my/club/partner/<int:coalition_id>/lookup": "404   404   404   404   404   404   404   login",
    "POST /my/club/partner/<int:coalition_id>/pin": "404   404   404   404   404   404   404   login",
    "POST /my/club/partner/<int:coalition_id>/redeem": "404   404   404   404   404   404   404   login",
    "POST /my/club/partner/<int:coalition_id>/earn": "404   404   404   404   404   404   404   login",
    "REPORT loyalty_club.report_member_card": "deny  deny  deny  ok    ok    deny  deny  login",
    "REPORT loyalty_club.report_card_statement": "deny  deny  deny  ok    ok    deny  deny  login",
    "REPORT loyalty_club.report_gift_card": "deny  deny  deny  ok    ok    deny  ok    login",
}
GIFT_PIN = "864200"
