"""What a call sends to PostgreSQL: the statements it executes, their plans (EXPLAIN ANALYZE
summed up) and their shapes (literals replaced, to group them)."""

import time
from contextlib import contextmanager


@contextmanager
def statements(cr):
    """Capture ``[(sql text, seconds)]`` of every statement ``cr`` executes in the block."""
    captured = []
    cursor_class = type(cr)
    original = cursor_class.execute

    def execute(self, query, params=None, log_exceptions=True):
        start = time.perf_counter()
        try:
            return original(self, query, params, log_exceptions)
        finally:
            if self is cr:
                from odoo.tools import SQL

                if isinstance(query, SQL):
                    query, params = query.code, query.params
                captured.append((self._obj.mogrify(query, params or None).decode(), time.perf_counter() - start))

    cursor_class.execute = execute
    try:
        yield captured
    finally:
        cursor_class.execute = original


def plan_summary(cr, sql):
    """EXPLAIN ANALYZE of ``sql``: execution time and the plan as one line of nodes
    (type, relation or index, actual rows x loops), outermost first."""
    cr.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
    result = cr.fetchone()[0][0]
    nodes = []

    def walk(node, depth, processes):
        label = node["Node Type"]
        if node.get("Relation Name"):
            label += f" on {node['Relation Name']}"
        if node.get("Index Name"):
            label += f" using {node['Index Name']}"
        if node.get("Parent Relationship") == "SubPlan":
            label = "SubPlan: " + label
        rows, loops = node.get("Actual Rows", 0), node.get("Actual Loops", 1)
        if node["Node Type"] in ("Gather", "Gather Merge"):
            processes = node.get("Workers Launched", 0) + 1  # below it, one loop per parallel process
        suffix = f" x {loops:,} {'parallel processes' if loops <= processes and processes > 1 else 'loops'}"
        nodes.append((depth, f"{label} ({rows:,} rows{suffix if loops > 1 else ''})", node, loops / processes))
        for child in node.get("Plans", []):
            walk(child, depth + 1, processes)

    walk(result["Plan"], 0, 1)
    per_row = [
        text
        for _depth, text, node, loops in nodes
        if loops > 1 and node.get("Relation Name") in ("loyalty_club_entry", "loyalty_club_gift_card_entry")
    ]
    return {
        "ms": result["Execution Time"],
        "nodes": [f"{'  ' * depth}{text}" for depth, text, _node, _loops in nodes],
        "subplans": sum(1 for _depth, text, _node, _loops in nodes if text.startswith("SubPlan")),
        "ledger_scans_per_row": per_row,
    }


def normalized(sql):
    """``sql`` with its literals replaced, to group the statements of a call."""
    import re

    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "N", sql)
    sql = re.sub(r"\(N(, N)*\)", "(N...)", sql)
    return " ".join(sql.split())
