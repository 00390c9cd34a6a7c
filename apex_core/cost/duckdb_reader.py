"""The DuckDB reader: a native CSV file parsed and rolled up in SQL (docs/COST_ENGINE.md).

DuckDB reads the file as text (``all_varchar``), numbers the rows in file
order (``row_number() OVER ()``) and checks every row against the
**canonical forms** below: a strict subset of what the Python reader accepts,
for which both read the same values (a test holds them to it). Canonical rows
are summed in SQL into the roll-up's cells, with the repeat detectors
(duplicates, prompt-cache prefixes) computed by window functions in file order.

Python stays the only judge of validity: every non-canonical row (a few)
comes back to Python and is read by the ordinary Python reader, at its own
line. If Python rejects it, it is counted like any rejection; if Python
*accepts* it (e.g. ``007`` tokens), or the detectors' LRU bounds could have
forgotten an id (the SQL answer would not be exact), :class:`NotExact` is
raised and the caller reads the whole file with the Python reader, saying so.
"""

# ruff: noqa: S608 - the SQL is built from this module's constants and the header's column
# positions; the one outside string, the file's path, is quoted by _sql_text.
from __future__ import annotations

import mmap
import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from apex_core.cost.context import ImportContext
from apex_core.cost.importing import DEFAULT_TRACE_START, ImportStats, read_usage
from apex_core.cost.native_format import COLUMNS, csv_columns
from apex_core.cost.repeats import (
    DUPLICATE_WINDOW_SECONDS,
    MAX_TRACKED_IDS,
    MIN_CACHEABLE_TOKENS,
    PREFIX_CACHE_TTL_SECONDS,
)
from apex_core.cost.rollup import (
    MAX_END_USERS,
    MAX_FEATURES,
    OTHER,
    SHORT_OUTPUT_TOKENS,
    UsageRollup,
    accumulate,
)

MAX_PYTHON_ROWS: Final = 10_000
"""Non-canonical rows the DuckDB reader hands to Python before it gives the file up."""
MEMORY_LIMIT: Final = "512MB"
"""DuckDB's memory limit; beyond it, sorts and windows spill to a temporary directory."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US: Final = 86_400_000_000

# Canonical forms, per kind of native column (the SQL side of one rule table).
# ``{c}`` is the column's text (never NULL here: short rows are caught first).
_INT = "({c} = CAST(TRY_CAST({c} AS BIGINT) AS VARCHAR) AND NOT starts_with({c}, '-'))"
_TIMESTAMP_RE = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?"
)
"""Timestamps both ``datetime.fromisoformat`` and the SQL below read (a DFA match, no groups)."""
CANONICAL: Final[dict[str, str]] = {
    "count": _INT,
    "optional_count": f"({{c}} = '' OR {_INT})",
    "bool": "({c} IN ('', 'false', '0', 'False', 'FALSE', 'true', '1', 'True', 'TRUE'))",
    "provider": "({c} <> '' AND strlen({c}) = length({c}))",  # ASCII: lower() agrees
    "nonempty": "({c} <> '')",
    "latency": r"({c} = '' OR regexp_full_match({c}, '[0-9]{{1,15}}(\.[0-9]{{1,6}})?'))",
    "blocks": "({c} = '' OR regexp_full_match({c}, '[!-~]+( [!-~]+)*'))",
    "label": "TRUE",
}
COLUMN_KINDS: Final[dict[str, str]] = {
    "timestamp": "timestamp",  # checked through _TIMESTAMP_RE and a strict cast
    "provider": "provider",
    "model": "nonempty",
    "input_tokens": "count",
    "output_tokens": "count",
    "cached_input_tokens": "optional_count",
    "cache_write_tokens": "optional_count",
    "cache_write_1h_tokens": "optional_count",
    "reasoning_tokens": "optional_count",
    "requests": "optional_count",
    "batch": "bool",
    "service_tier": "label",
    "feature": "label",
    "end_user": "label",
    "latency_ms": "latency",
    "prompt_fingerprint": "label",
    "prefix_blocks": "blocks",
    "block_tokens": "optional_count",  # only read for rows with a fingerprint or blocks
}


class NotExact(Exception):
    """The DuckDB reader cannot give exactly the Python reader's answer for this file."""


def plain_csv_problem(path: str) -> str | None:
    """Why the DuckDB reader cannot read ``path`` line for line like ``csv.reader``, or None.

    It needs one row per line: no quotes (quoted commas or newlines), no blank
    lines (``csv.reader`` skips them but counts their lines), no lone ``\\r``,
    no ``\\x01`` (its NULL marker).
    """
    if os.path.getsize(path) == 0:
        return "the file is empty"
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data.find(b'"') >= 0:
            return "it has quoted fields"
        if data.find(b"\x01") >= 0:
            return "it has \\x01 bytes"
        if data.find(b"\n\n") >= 0 or data.find(b"\n\r\n") >= 0 or data[:1] in (b"\n", b"\r"):
            return "it has blank lines"
        if data.find(b"\r") >= 0 and re.search(rb"\r(?!\n)", data):
            return "it has lone carriage returns"
        if data[:4096].lstrip()[:1] in (b"{", b"["):
            return "it is JSON"
    return None


def accumulate_native_duckdb(path: str, *, threads: int = 2) -> UsageRollup:
    """Read the native CSV file at ``path`` with DuckDB into a new roll-up.

    Raises :class:`NotExact` when only the Python reader can give the exact
    answer (see the module docstring), :class:`ImportFailed` as the Python
    reader would (missing header columns, not UTF-8).
    """
    import duckdb  # noqa: PLC0415 - 0.2 s to import; only this reader needs it

    problem = plain_csv_problem(path)
    if problem:
        raise NotExact(f"{path}: {problem}")
    context = ImportContext(source=path, model_mapping=None, trace_start=DEFAULT_TRACE_START)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header_line = handle.readline()
    _, columns = csv_columns(iter([header_line]), context)  # type: ignore[arg-type]
    width = columns.width
    field = {
        # absent columns read the field after the header's last, as the Python reader does
        # (its rows get a trailing "" appended: an extra field takes that place)
        name: (f"c{position}" if position < width else f"coalesce(c{width}, '')")
        for name, position in zip(COLUMNS, columns.positions, strict=True)
    }
    con = duckdb.connect(config={"threads": max(threads, 1), "memory_limit": MEMORY_LIMIT})
    try:
        con.execute(f"SET temp_directory = '{_sql_text(tempfile.gettempdir())}/apex-duckdb'")
        try:
            con.execute(_load_sql(path, width, field))
        except duckdb.InvalidInputException as exc:
            if "unicode" in str(exc).lower() or "utf" in str(exc).lower():
                _python_error(path)  # the Python reader's own error, with its line
            raise
        stats = ImportStats()
        _check_rows(con, path, width, stats)
        return _build(con, stats, path)
    finally:
        con.close()


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _load_sql(path: str, width: int, field: dict[str, str]) -> str:
    types = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width + 1))
    source = (
        f"read_csv('{_sql_text(path)}', header = true, all_varchar = true, delim = ',', "
        f"quote = '', escape = '', columns = {{{types}}}, null_padding = true, "
        "auto_detect = false, strict_mode = false, nullstr = '\x01')"
    )
    ts = field["timestamp"]
    checks = [
        CANONICAL[kind].format(c=field[name])
        for name, kind in COLUMN_KINDS.items()
        if kind not in ("timestamp", "label") and name != "block_tokens"
    ]
    f = field
    as_int = "TRY_CAST(CASE WHEN {c} = '' THEN '{d}' ELSE {c} END AS BIGINT)"
    ints = {
        name: as_int.format(c=f[name], d=default)
        for name, default in (
            ("input_tokens", 0), ("output_tokens", 0), ("cached_input_tokens", 0),
            ("cache_write_tokens", 0), ("cache_write_1h_tokens", 0), ("reasoning_tokens", 0),
            ("requests", 1), ("block_tokens", 512),
        )
    }  # fmt: skip
    repeat = f"({f['prompt_fingerprint']} <> '' OR {f['prefix_blocks']} <> '')"
    block_check = CANONICAL["optional_count"].format(c=f["block_tokens"])
    short = f"c{width - 1} IS NULL"
    # Canonical rows only go through the CASTs (the CASE guards them).
    return f"""
CREATE TEMP TABLE parsed AS
WITH numbered AS (SELECT row_number() OVER () AS rn, * FROM {source}),
checked AS (
  SELECT *, {ts} AS ts_text,
    CASE WHEN ends_with({ts}, 'Z') THEN 'Z'
         WHEN length({ts}) >= 25 AND substr({ts}, -6, 1) IN ('+', '-') THEN right({ts}, 6)
         ELSE '' END AS zone,
    (NOT ({short}) AND regexp_full_match({ts}, '{_TIMESTAMP_RE}') AND {" AND ".join(checks)}
     AND (NOT {repeat} OR {block_check})) AS shaped
  FROM numbered
),
typed AS (
  SELECT rn, shaped, zone, substr(ts_text, 21, greatest(length(ts_text) - 20 - length(zone), 0)) AS frac,
    CASE WHEN shaped THEN TRY_CAST(substr(ts_text, 1, 10) || ' ' ||
      CASE WHEN length(ts_text) > 10 THEN substr(ts_text, 12, 8) ELSE '00:00:00' END
      AS TIMESTAMP) END AS local_ts,
    {", ".join(f"CASE WHEN shaped THEN {expr} END AS {name}" for name, expr in ints.items())},
    CASE WHEN shaped AND {f["latency_ms"]} <> '' THEN
      CAST(round_even(TRY_CAST({f["latency_ms"]} AS DOUBLE), 0) AS BIGINT) END AS latency,
    lower({f["provider"]}) AS provider, {f["model"]} AS model,
    {f["batch"]} IN ('true', '1', 'True', 'TRUE') AS batch, {f["service_tier"]} AS tier,
    {f["feature"]} AS feature, {f["end_user"]} AS end_user,
    nullif({f["prompt_fingerprint"]}, '') AS fp, {f["prefix_blocks"]} AS blocks,
    {", ".join(f"c{i}" for i in range(width + 1))}
  FROM checked
),
stamped AS (
  SELECT *,
    epoch_us(local_ts) + CASE WHEN frac = '' THEN 0 ELSE TRY_CAST(rpad(frac, 6, '0') AS BIGINT) END
    - CASE WHEN length(zone) < 6 THEN 0 ELSE (CASE WHEN zone[1] = '-' THEN -1 ELSE 1 END)
        * (TRY_CAST(zone[2:3] AS BIGINT) * 60 + TRY_CAST(zone[5:6] AS BIGINT)) * 60000000 END AS us
  FROM typed
),
judged AS (
  SELECT *, COALESCE(shaped AND local_ts IS NOT NULL
    AND cached_input_tokens + cache_write_tokens <= input_tokens
    AND reasoning_tokens <= output_tokens AND cache_write_1h_tokens <= cache_write_tokens
    AND year(make_timestamp(us)) BETWEEN 1000 AND 9999, FALSE) AS ok
  FROM stamped
)
SELECT rn, ok, us, strftime(make_timestamp(us), '%Y-%m-%d') AS day, provider, model, batch, tier,
  feature, end_user, fp, blocks, input_tokens, output_tokens, cached_input_tokens,
  cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, requests, block_tokens, latency,
  CASE WHEN NOT ok THEN [{", ".join(f"c{i}" for i in range(width + 1))}] END AS raw
FROM judged
"""


def _python_error(path: str) -> None:
    """Read ``path`` with the Python reader only to raise its exact error."""
    accumulate(read_usage(path, format="native"))


def _check_rows(con: Any, path: str, width: int, stats: ImportStats) -> None:
    """Hand every non-canonical row to the Python reader; count its rejections."""
    total, bad = con.execute("SELECT count(*), count(*) FILTER (NOT ok) FROM parsed").fetchone()
    if bad > MAX_PYTHON_ROWS:
        raise NotExact(f"{path}: {bad} rows are not in the canonical forms")
    with open(path, "rb") as handle:
        header = handle.readline()
    for rn, raw in con.execute("SELECT rn, raw FROM parsed WHERE NOT ok ORDER BY rn").fetchall():
        line = rn + 1
        fields = [value for value in raw if value is not None]
        text = header.rstrip(b"\r\n") + b"\n" + ",".join(fields).encode() + b"\n"
        result = read_usage(text, format="native", source_name=path, line_offset=line - 2)
        part = accumulate(result)
        if part.rows.imported:
            raise NotExact(f"{path}:{line}: a valid row not in the DuckDB reader's canonical forms")
        stats.merge(part.rows)
    stats.read = total
    stats.imported = total - stats.rejected


def _seconds(column: str) -> str:
    # Python compares ts.timestamp() floats: exact microseconds / 1e6, rounded once
    return f"(CAST({column} AS DOUBLE) / CAST(1000000 AS DOUBLE))"


def _detect_repeats(con: Any, path: str) -> None:
    """Tables ``dups(rn, dup)`` and ``prefix(rn, hit, write)``: the detectors, in file order."""
    cap = MAX_TRACKED_IDS
    con.execute(f"""
CREATE TEMP TABLE dups AS
WITH f AS (
  SELECT rn, us, provider, model, fp, row_number() OVER (ORDER BY rn) AS seq
  FROM parsed WHERE ok AND fp IS NOT NULL
), g AS (
  SELECT rn, seq, us, lag(us) OVER w AS prev_us, lag(seq) OVER w AS prev_seq,
    count(*) OVER () AS touches
  FROM f WINDOW w AS (PARTITION BY provider, model, fp ORDER BY seq)
)
SELECT rn, prev_seq IS NOT NULL
    AND abs({_seconds("us")} - {_seconds("prev_us")}) <= {DUPLICATE_WINDOW_SECONDS} AS dup,
  prev_seq IS NOT NULL AND seq - prev_seq - 1 >= {cap} AS far
FROM g
""")
    _require_lru_exact(
        con, path, "dups", "dup", key="(provider, model, fp)", where="fp IS NOT NULL"
    )
    con.execute(f"""
CREATE TEMP TABLE touches AS
WITH r AS (
  SELECT p.rn, p.us, p.provider, p.model, p.blocks FROM parsed p LEFT JOIN dups d USING (rn)
  WHERE p.ok AND p.blocks <> '' AND NOT coalesce(d.dup, FALSE)
), b AS (
  SELECT rn, us, provider, model, t.block, t.pos
  FROM r, unnest(string_split(r.blocks, ' ')) WITH ORDINALITY AS t(block, pos)
), s AS (
  SELECT *, row_number() OVER (ORDER BY rn, pos) AS seq FROM b
), g AS (
  SELECT rn, pos, seq, us, provider, model, block, lag(us) OVER w AS prev_us,
    lag(seq) OVER w AS prev_seq
  FROM s WINDOW w AS (PARTITION BY provider, model, block ORDER BY seq)
)
SELECT rn, pos, provider, model, block, prev_seq IS NOT NULL
    AND abs({_seconds("us")} - {_seconds("prev_us")}) <= {PREFIX_CACHE_TTL_SECONDS} AS hit,
  prev_seq IS NOT NULL AND seq - prev_seq - 1 >= {cap} AS far
FROM g
""")
    _require_lru_exact(con, path, "touches", "hit", key="(provider, model, block)", where="TRUE")
    minimum = MIN_CACHEABLE_TOKENS
    con.execute(f"""
CREATE TEMP TABLE prefix AS
WITH h AS (
  SELECT rn, count(*) AS blocks, coalesce(min(pos) FILTER (NOT hit) - 1, count(*)) AS hits
  FROM touches GROUP BY rn
), t AS (
  SELECT h.rn, h.hits, p.block_tokens AS bt,
    least(h.blocks * p.block_tokens, p.input_tokens) AS prefix_tokens
  FROM h JOIN parsed p USING (rn)
), u AS (
  SELECT rn, prefix_tokens,
    CASE WHEN prefix_tokens < {minimum} THEN 0 ELSE least(hits * bt, prefix_tokens) END AS raw_hit
  FROM t
)
SELECT rn,
  CASE WHEN prefix_tokens < {minimum} OR raw_hit < {minimum} THEN 0 ELSE raw_hit END AS hit,
  CASE WHEN prefix_tokens < {minimum} THEN 0
       WHEN raw_hit < {minimum} THEN prefix_tokens ELSE prefix_tokens - raw_hit END AS write
FROM u
""")


def _require_lru_exact(con: Any, path: str, table: str, flag: str, *, key: str, where: str) -> None:
    """Raise :class:`NotExact` if the Python detector's LRU bound could have forgotten an id.

    An id is certainly still remembered when fewer than the bound of other
    touches happened since it was last seen; with no more distinct ids than the
    bound in the whole file, none is ever forgotten.
    """
    (doubtful,) = con.execute(f"SELECT count(*) FROM {table} WHERE far AND {flag}").fetchone()
    if not doubtful:
        return
    source = "parsed WHERE ok AND " + where if table == "dups" else "touches"
    (distinct,) = con.execute(f"SELECT count(DISTINCT {key}) FROM {source}").fetchone()
    if distinct > MAX_TRACKED_IDS:
        raise NotExact(
            f"{path}: an id repeats after more than {MAX_TRACKED_IDS} others; whether the "
            "bounded detector still remembers it needs the Python reader"
        )


def _usage_sums(filter_sql: str = "") -> str:
    names = ("requests", "input_tokens", "cached_input_tokens", "cache_write_tokens",
             "cache_write_1h_tokens", "output_tokens", "reasoning_tokens")  # fmt: skip
    where = f" FILTER ({filter_sql})" if filter_sql else ""
    return ", ".join(f"coalesce(sum({name}){where}, 0)" for name in names)


def _build(con: Any, stats: ImportStats, path: str) -> UsageRollup:
    _detect_repeats(con, path)
    short = f"requests > 0 AND output_tokens <= {SHORT_OUTPUT_TOKENS} * requests"
    labels = f"""
fmap AS (
  SELECT feature, CASE WHEN row_number() OVER (ORDER BY min(rn)) <= {MAX_FEATURES}
    THEN feature ELSE '{OTHER}' END AS label FROM parsed WHERE ok GROUP BY feature
), umap AS (
  SELECT end_user, CASE WHEN row_number() OVER (ORDER BY min(rn)) <= {MAX_END_USERS}
    THEN end_user ELSE '{OTHER}' END AS label FROM parsed WHERE ok GROUP BY end_user
)"""
    cells = con.execute(f"""
WITH {labels}
SELECT day, provider, model, fmap.label, batch, tier,
  {_usage_sums()}, {_usage_sums(short)}, {_usage_sums("dups.dup")},
  count(latency), coalesce(sum(latency), 0), coalesce(max(latency), 0),
  coalesce(sum(requests) FILTER (prefix.rn IS NOT NULL), 0),
  coalesce(sum(prefix.hit), 0), coalesce(sum(prefix.write), 0), count(*)
FROM parsed p JOIN fmap USING (feature) LEFT JOIN dups USING (rn) LEFT JOIN prefix USING (rn)
WHERE p.ok GROUP BY ALL ORDER BY min(p.rn)
""").fetchall()
    user_cells = con.execute(f"""
WITH {labels}
SELECT day, provider, model, umap.label, batch, tier, {_usage_sums()}, count(*)
FROM parsed JOIN umap USING (end_user) WHERE ok GROUP BY ALL ORDER BY min(rn)
""").fetchall()
    first, last, daily = con.execute(f"""
SELECT min(us), max(us), coalesce(bool_and(((us % {_DAY_US}) + {_DAY_US}) % {_DAY_US} = 0), TRUE)
FROM parsed WHERE ok
""").fetchone()
    rollup = UsageRollup()
    rollup.cells = {tuple(row[:6]): [int(v) for v in row[6:]] for row in cells}
    rollup.user_cells = {tuple(row[:6]): [int(v) for v in row[6:]] for row in user_cells}
    rollup._features.update(key[3] for key in rollup.cells)
    rollup._users.update(key[3] for key in rollup.user_cells)
    if first is not None:
        rollup.first_seen = _EPOCH + timedelta(microseconds=first)
        rollup.last_seen = _EPOCH + timedelta(microseconds=last)
    rollup.daily_buckets = bool(daily)
    rollup.rows = stats
    return rollup
