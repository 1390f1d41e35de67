"""Helpers shared by the report tests (test_reports.py, test_reports_channels.py)."""


def model_counts(env):
    """{model: number of records} of every club model with a table (archived ones included)."""
    return {
        name: env[name].sudo().with_context(active_test=False).search_count([])
        for name in env.registry
        if name.startswith("loyalty.club") and not env[name]._abstract
    }


def sums(model, domain, groupby, measures):
    """{group key: (measure sums)} of a report through the ORM (record rules apply)."""
    rows = model._read_group(domain, groupby, [f"{m}:sum" for m in measures])
    return {row[0] if len(groupby) == 1 else row[: len(groupby)]: tuple(row[len(groupby) :]) for row in rows}
