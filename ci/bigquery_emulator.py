"""Start the local-bigquery emulator with one fix, for Derived's tests.

Its MERGE probes for an open transaction by sending `BEGIN`; in DuckDB that
failed `BEGIN` aborts the open transaction, so every MERGE inside
`BEGIN TRANSACTION ... COMMIT TRANSACTION` fails with "Current transaction is
aborted". Here the probe asks first: `now()` is the start of the current
transaction, so two statements read the same value only inside one (outside,
each statement is its own transaction, microseconds apart), and then `BEGIN`
is not sent.

The emulator exits when its standard input closes, so a test process that
dies never leaves one behind. Arguments are local-bigquery's own.
"""

import os
import sys
import threading

import duckdb
from local_bigquery import cli
from local_bigquery.jobs import merge


def in_transaction(cursor):
    first = cursor.execute("SELECT CAST(now() AS VARCHAR)").fetchone()[0]
    second = cursor.execute("SELECT CAST(now() AS VARCHAR)").fetchone()[0]
    return first == second


class TransactionAwareCursor:
    def __init__(self, cursor):
        self._cursor = cursor

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def execute(self, sql, *args):
        if sql == "BEGIN" and in_transaction(self._cursor):
            raise duckdb.TransactionException("a transaction is already open")
        return self._cursor.execute(sql, *args)


original_merge = merge.run
merge.run = lambda cursor, tree, context: original_merge(
    TransactionAwareCursor(cursor), tree, context
)


def exit_when_stdin_closes():
    while sys.stdin.buffer.read(1024):
        pass
    os._exit(0)


if os.environ.get("DERIVED_BQ_EXIT_ON_EOF") == "1":
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()

cli.main(sys.argv[1:])
