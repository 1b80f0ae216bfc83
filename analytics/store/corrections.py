"""SQL of the budget corrections added from the SLOs page (table created with the schema,
analytics.store.schema): the UI's second write path besides uploads, after review notes.

Append-only, one row per correction; a correction is withdrawn (never deleted: who excluded what
stays on record) by a row of the withdrawals table naming it by (start, added_at), the time it was
added to the millisecond. User values are bound parameters. The SLO file's corrections are not
stored: they are read with the file (analytics.slo.corrections merges both).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from analytics.store import conventions
from analytics.store.client import Store
from analytics.times import as_utc

INSERT_SQL = f"""
INSERT INTO {conventions.BUDGET_CORRECTIONS} (slos, start, duration_s, reason, added_by, added_at)
VALUES ({{slos:Array(String)}}, {{start:DateTime64(3, 'UTC')}}, {{duration_s:UInt32}}, {{reason:String}},
        {{added_by:String}}, {{added_at:DateTime64(3, 'UTC')}})
"""
WITHDRAW_SQL = f"""
INSERT INTO {conventions.CORRECTION_WITHDRAWALS} (start, added_at, reason, withdrawn_by, withdrawn_at)
VALUES ({{start:DateTime64(3, 'UTC')}}, {{added_at:DateTime64(3, 'UTC')}}, {{reason:String}}, {{withdrawn_by:String}},
        {{withdrawn_at:DateTime64(3, 'UTC')}})
"""
# The condition on a correction row `c` that it has not been withdrawn (also in exported alert rules).
NOT_WITHDRAWN = (f"(c.start, c.added_at) NOT IN (SELECT w.start, w.added_at "
                 f"FROM {conventions.CORRECTION_WITHDRAWALS} AS w)")
# Every correction in force whose window [start, start + duration) overlaps [begin, end), oldest first.
SELECT_SQL = f"""
SELECT c.slos AS slos, c.start AS start, c.duration_s AS duration_s, c.reason AS reason,
    c.added_by AS added_by, c.added_at AS added_at
FROM {conventions.BUDGET_CORRECTIONS} AS c
WHERE c.start < {{end:DateTime64(3, 'UTC')}}
    AND c.start + toIntervalSecond(c.duration_s) > {{begin:DateTime64(3, 'UTC')}}
    AND {NOT_WITHDRAWN}
ORDER BY start, added_at
"""


def write(store: Store, slos: list[str], start: datetime, duration_s: int, reason: str, added_by: str,
          added_at: datetime) -> None:
    """Append one correction (bound parameters); empty ``slos`` means every SLO."""
    store.command(INSERT_SQL, {"slos": list(slos), "start": start, "duration_s": int(duration_s),
                               "reason": reason, "added_by": added_by, "added_at": added_at})


def withdraw(store: Store, start: datetime, added_at: datetime, reason: str, withdrawn_by: str,
             withdrawn_at: datetime) -> None:
    """Withdraw the correction added at ``added_at`` with window start ``start`` (bound parameters)."""
    store.command(WITHDRAW_SQL, {"start": start, "added_at": added_at, "reason": reason,
                                 "withdrawn_by": withdrawn_by, "withdrawn_at": withdrawn_at})


def read(store: Store, begin: datetime, end: datetime) -> pl.DataFrame:
    """The stored corrections in force (not withdrawn) overlapping [begin, end): slos, start, duration_s,
    reason, added_by, added_at."""
    return as_utc(as_utc(store.query(SELECT_SQL, {"begin": begin, "end": end}), "start"), "added_at")
