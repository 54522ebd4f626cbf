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

# pyarrow reads the same tables as datasets with Hive partitioning.
for name in ["calls", "segments", "failures", "findings", "agents"]:
    ds.dataset(f"{out}/{name}", format="parquet", partitioning="hive").to_table()

print(f"duckdb/pyarrow: {len(calls)} calls ({sorted(statuses)}), segments by speaker {segments}, "
      f"{len(failures)} failures: ok")
