"""Reads a callqa dataset the way a user would, with DuckDB and pyarrow, and checks that the
tables are readable as they are (no conversion) and consistent with each other.

Usage: python3 scripts/check_dataset.py OUT
"""
import sys

import duckdb
import pyarrow.dataset as ds

out = sys.argv[1]
con = duckdb.connect()


def table(name):
    return f"read_parquet('{out}/{name}/*/*.parquet', hive_partitioning = true)"


calls = con.sql(f"select call_id, status, score, cast(started_at as varchar), call_date from {table('calls')}").fetchall()
assert calls, "calls is empty"
statuses = {status for _, status, _, _, _ in calls}
assert statuses <= {"scored", "not_scorable", "failed"}, statuses
# started_at is a UTC timestamp, call_date the partition (a date).
kind = con.sql(f"select typeof(started_at), typeof(call_date) from {table('calls')} limit 1").fetchall()[0]
assert kind[0].startswith("TIMESTAMP WITH TIME ZONE"), kind
segments = con.sql(f"select speaker, count(*) from {table('segments')} group by speaker order by speaker").fetchall()
assert segments, "segments is empty"
assert {speaker for speaker, _ in segments} <= {"agent", "customer", "unknown"}, segments
failures = con.sql(f"select call_id, stage, error, message from {table('failures')} order by call_id").fetchall()
assert all(message for _, _, _, message in failures)
failed_calls = {call_id for call_id, status, *_ in calls if status == "failed"}
assert failed_calls == {call_id for call_id, *_ in failures}, (failed_calls, failures)
for name in ["findings", "agents"]:
    con.sql(f"select count(*) from {table(name)}").fetchall()[0]

# `counted` is a boolean, true only on scored calls; the distinct (call_id, rule_id) of counted
# findings per agent, date and category are the agents table's failures_<category>, exactly
# (the README's query).
finding_columns = [row[0] for row in con.sql(f"describe select * from {table('findings')}").fetchall()]
assert finding_columns == ["call_id", "agent_id", "rule_id", "category", "severity", "points", "speaker",
                           "start_ms", "end_ms", "evidence", "description", "counted", "call_date"], finding_columns
kind = con.sql(f"select typeof(counted) from {table('findings')} limit 1").fetchall()
assert not kind or kind[0][0] == "BOOLEAN", kind
status = dict((call_id, status) for call_id, status, *_ in calls)
for call_id, counted in con.sql(f"select call_id, counted from {table('findings')}").fetchall():
    assert not counted or status[call_id] == "scored", (call_id, status[call_id])
from_findings = set(con.sql(f"""
    select agent_id, cast(call_date as varchar), category, count(*)
    from (select distinct agent_id, call_date, category, call_id, rule_id
          from {table('findings')} where counted)
    group by all""").fetchall())
agents = con.sql(f"select * exclude (call_date), cast(call_date as varchar) as call_date from {table('agents')}")
agent_columns = agents.columns
from_agents = set()
for row in agents.fetchall():
    values = dict(zip(agent_columns, row))
    for column, value in values.items():
        if column.startswith("failures_") and value:
            from_agents.add((values["agent_id"], values["call_date"], column[len("failures_"):], value))
assert from_findings == from_agents, (from_findings, from_agents)

# pyarrow reads the same tables as datasets with Hive partitioning.
for name in ["calls", "segments", "failures", "findings", "agents"]:
    ds.dataset(f"{out}/{name}", format="parquet", partitioning="hive").to_table()

print(f"duckdb/pyarrow: {len(calls)} calls ({sorted(statuses)}), segments by speaker {segments}, "
      f"{len(failures)} failures, {sum(count for *_, count in from_agents)} rule failures as in agents: ok")
