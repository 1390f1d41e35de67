"""The benchmark's setup through the ORM: accounting, a POS shop with an open session and three
products; in the loyalty_club database a club with Bronze/Silver/Gold tiers, in the native one a
``loyalty.program`` with the same earning rule (``load``; ``till_load.py`` uses the shop)."""

from common import PREFIX


def ensure_accounting(env):
    company = env.company
    company.country_id = env.ref("base.ir")
    if not env["account.account"].search_count([("company_ids", "in", company.id)], limit=1):
        env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)


def ensure_pos(env, name):
    """A POS shop with a cash method and an open session (like a till in the morning)."""
    config = env["pos.config"].search([("name", "=", name)], limit=1)
    if not config:
        config = env["pos.config"].create({"name": name})
    if not config.current_session_id:
        config = config.with_user(env.ref("base.user_admin"))
        config.open_ui()
        config.current_session_id.set_opening_control(0, None)
    return config


def setup_common(env, suffix=""):
    ensure_accounting(env)
    products = env["product.product"].create(
        [
            {
                "name": f"Bench {name}",
                "type": "service",
                "available_in_pos": True,
                "sale_ok": True,
                "lst_price": price,
                "taxes_id": False,
            }
            for name, price in (("Shirt", 100.0), ("Cap", 40.0), ("Socks", 10.0))
        ]
    )
    walk_in = env["res.partner"].create({"name": "Bench walk-in customer"})
    config = ensure_pos(env, f"Bench Shop{suffix}")
    return products, walk_in, config


def setup_club(env, entries_per_member):
    """Club, tiers and shop of the benchmark database (through the ORM, committed)."""
    env.ref("base.user_admin").groups_id += env.ref("loyalty_club.group_loyalty_club_manager")
    products, walk_in, config = setup_common(env)
    club = env["loyalty.club"].create(
        {
            "name": "Bench Club",
            "company_id": env.company.id,
            "earn_amount": 10,
            "earn_points": 1,
            "point_value": 0.5,
            "expiry_months": 12,
            "card_prefix": PREFIX,
            "tier_grace_days": 30,
        }
    )
    silver, gold = 27 * (entries_per_member - 1), 40 * (entries_per_member - 1)
    tiers = env["loyalty.club.tier"].create(
        [
            {"name": "Bronze", "sequence": 1, "club_id": club.id, "threshold": 0},
            {"name": "Silver", "sequence": 2, "club_id": club.id, "threshold": silver, "earn_multiplier": 1.5},
            {"name": "Gold", "sequence": 3, "club_id": club.id, "threshold": gold, "earn_multiplier": 2},
        ]
    )
    return {
        "club": club.id,
        "company": env.company.id,
        "bronze": tiers[0].id,
        "gold": tiers[2].id,
        "products": products.ids,
        "walk_in": walk_in.id,
        "config": config.id,
    }


def setup_native(env):
    """The same products and shop, and a native loyalty program with the same earning rule."""
    products, walk_in, config = setup_common(env, " native")
    program = env["loyalty.program"].create(
        {
            "name": "Bench native loyalty",
            "program_type": "loyalty",
            "applies_on": "both",
            "trigger": "auto",
            "pos_ok": True,
            "sale_ok": True,
            "pos_config_ids": [(6, 0, config.ids)],
            "rule_ids": [(0, 0, {"reward_point_mode": "money", "reward_point_amount": 0.1, "minimum_amount": 0})],
            "reward_ids": [
                (
                    0,
                    0,
                    {"reward_type": "discount", "discount_mode": "per_point", "discount": 0.5, "required_points": 1},
                )
            ],
        }
    )
    return {
        "program": program.id,
        "company": env.company.id,
        "products": products.ids,
        "walk_in": walk_in.id,
        "config": config.id,
    }
