def migrate(cr, version):
    """The dashboard became a client action over an abstract model: drop the tables of its old
    transient records (the figures and the branches of each opened dashboard), which the ORM
    leaves behind when a model stops being stored."""
    if not version:
        return
    cr.execute("DROP TABLE IF EXISTS loyalty_club_dashboard_res_company_rel, loyalty_club_dashboard CASCADE")
