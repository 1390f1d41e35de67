"""What every benchmark of bench/ shares: Odoo started in-process with the scripts' options, one
cursor and environment per call (like one RPC), timing statistics, the raw JSON results, and the
card numbers and phones of the bulk-loaded members."""

import json
import statistics
import sys
from contextlib import contextmanager

PREFIX = "7700"
ADMIN = 2  # base.user_admin: a real user, so access rights and record rules are paid for


def out(*args):
    print(*args, flush=True)


def start_odoo(odoo_dir, odoo_args, log):
    if odoo_dir and odoo_dir not in sys.path:
        sys.path.insert(0, odoo_dir)
    import odoo

    odoo.tools.config.parse_config([*odoo_args, f"--logfile={log}", "--log-level=warn"])
    odoo.netsvc.init_logger()
    return odoo


@contextmanager
def environment(odoo, db, uid=ADMIN, commit=False):
    """A fresh cursor and environment, like one RPC; rolled back unless ``commit``."""
    from odoo.modules.registry import Registry

    registry = Registry(db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, uid, {})
        try:
            yield env
        finally:
            if commit:
                cr.commit()
            else:
                cr.rollback()


def stats(samples):
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, max(0, round(0.95 * len(samples)) - 1))]
    return {"median": statistics.median(samples), "p95": p95, "n": len(samples)}


def save(raw, name, data):
    raw.mkdir(parents=True, exist_ok=True)
    (raw / f"{name}.json").write_text(json.dumps(data, indent=1, default=str))


def load_json(raw, name):
    path = raw / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def card_number(index):
    """The bulk-loaded card number of member ``index`` (same formula as the SQL loader)."""
    from odoo.addons.loyalty_club.tools.card_number import luhn_check_digit

    body = f"{PREFIX}9{index:010d}"
    return body + luhn_check_digit(body)


def local_phone(index):
    return f"0912{index:07d}"


def save_extra(raw, name, title, measures):
    """For additional benchmark scripts: record ``measures`` (list of dicts with ``measure``,
    ``value``, ``unit``, ``detail``) under ``title``; ``report`` adds them as a table."""
    save(raw, f"extra_{name}", {"title": title, "rows": measures})
