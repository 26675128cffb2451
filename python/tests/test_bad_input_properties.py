"""Property-based bad-input campaign over the agent-facing SQL API (hypothesis).

Every function an agent may call with values of its own is called, as an agent (the
session user is its login role, so row-level security applies), one statement at a
time in autocommit, with hypothesis' values as bound parameters: arbitrary Unicode
(NUL included; surrogates cannot be encoded in UTF-8 and are left out), texts at and
beyond their limits, NaN, infinities, subnormal and huge floats, integers at the int4
and int8 boundaries, arrays (empty, huge, 2-D, NULL, empty or long elements,
duplicates), JSON (deep, large, not an object, with a \\u0000 escape), timestamps
(infinity, 4713 BC, 294276 AD), intervals with mixed signs, and NULL for each argument.

For each call a small model of the function's documented rules (its COMMENT ON
FUNCTION, and for values that an argument's type refuses before the function runs, the
README's Errors table) says which SQLSTATEs the arguments call for. When it names none
the call must succeed, and its outcome is checked where that is cheap (what was stored
reads back, filters hold, spans cover the text, ...). Otherwise the call must fail with
one of them, and nothing stored may have changed: every row of every table of schema
memory keeps its row version (ctid, xmin), which any committed change would replace.
test_models_only_use_documented_sqlstates checks the models against the COMMENTs.

Runs are reproducible (derandomized, no example database, nothing written to the
repository); BAD_INPUT_EXAMPLES sets the examples per function (default 300).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from psycopg import sql
from testing.stack import ScratchDatabase

pytestmark = [
    pytest.mark.timeout(900),
    # hypothesis warns when it prints a falsifying example of 500,000 characters
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]

# hypothesis caches Unicode tables and constants in ./.hypothesis: keep the repository clean
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "agent-memory-hypothesis")
EXAMPLES = int(os.environ.get("BAD_INPUT_EXAMPLES", "300"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)

# SQLSTATEs each function's model may require for its own rules (not for values the
# argument types refuse). Every one must be named in the function's COMMENT ON FUNCTION.
MODEL_CODES: dict[str, set[str]] = {
    "remember": {"22023", "22001", "22003", "22008", "54000"},
    "update_episode": {"P0002", "22023", "22001", "22003", "54000"},
    "forget_episode": {"P0002"},
    "learn_fact": {"22023", "22001", "22003", "22008", "P0002", "55000"},
    "invalidate_fact": {"P0002", "55000", "22023", "22008"},
    "link_facts": {"P0002", "22023", "22003"},
    "search_episodic_memory(text)": {"22023", "22001", "22003"},
    "search_episodic_memory(vector)": {"22023"},
    "search_semantic_memory": {"22023", "22001", "22008"},
    "set_working_memory": {"22023", "22004", "54000"},
    "get_working_memory": set(),
    "clear_working_memory": set(),
    "set_block": {"42501", "22004", "22023", "22001"},
    "block_history": {"22004", "22023", "P0002"},
    "create_checkpoint": {"22004", "22023", "54000"},
    "restore_checkpoint": {"22004", "P0002"},
    "heartbeat": {"22001", "22023", "54000"},
    "register_instance": {"22004", "22023", "22001", "54000"},
    "instance_heartbeat": {"22004", "P0002"},
    "propose_decision": {"22004", "22023", "22001", "54000"},
    "vote": {"22004", "P0002", "55000", "23505"},
    "build_context": {"22023", "22001"},
    "build_context_text": {"22023", "22001"},
    "embed_query": {"22023", "22001", "42704", "38000"},
    "chunk_text": {"22023"},
    "episode_embedding": set(),
    "estimate_tokens": set(),
    "render_context": {"22023"},
    "my_quota": set(),
    "forget_session": {"22023", "22001"},
    "forget_project": {"22023", "22001", "P0002"},
    "set_retention_policy": {"42501", "22023", "22003"},
    "clear_retention_policy": {"42501"},
    "effective_importance": set(),
    "undo_consolidation": {"22023", "P0002", "55000"},
    "resolve_episode": {"22023"},
    "list_retention_log": {"22023"},
    "list_consolidations": {"22023"},
    "text_similarity": set(),
    "share": {"22023", "22001", "42704", "P0002"},
    "unshare": {"22023", "22001", "42704"},
    "my_shares": set(),
    "shared_with_me": set(),
}
SIGNATURES = {
    "search_episodic_memory(text)": "memory.search_episodic_memory(text, integer, text, text[], text, text, timestamptz, timestamptz, real, double precision, double precision, interval, double precision, integer, double precision, integer, double precision, boolean)",
    "search_episodic_memory(vector)": "memory.search_episodic_memory(public.vector, integer, double precision)",
}
# A function whose COMMENT refers to another's errors ("the errors of remember()").
INHERITS = {"update_episode": "remember", "build_context_text": "build_context"}
# What the argument types themselves refuse, before any of our code runs. Each must be
# in the README's Errors table.
TYPE_CODES = {"22021", "22P05", "54001", "22003", "22008", "22000", "54000"}

INT4 = (-(2**31), 2**31 - 1)
FLT_MAX = float(np.finfo(np.float32).max)
SERVING_DIMS = 384


# ------------------------------------------------------------------ the expectation
@dataclass
class Expect:
    """The SQLSTATEs a call's arguments call for: `must` (the call has to fail with one of
    them) and `may` (allowed, not required: outcomes that depend on the clock)."""

    function: str
    must: set[str] = field(default_factory=set)
    may: set[str] = field(default_factory=set)
    why: list[str] = field(default_factory=list)
    refused_by_type: bool = False

    def rule(self, cond: bool, code: str, why: str) -> None:
        assert code in MODEL_CODES[self.function], f"{self.function}: model code {code} not listed"
        if cond:
            self.must.add(code)
            self.why.append(f"{code}: {why}")

    def maybe(self, code: str, why: str) -> None:
        assert code in MODEL_CODES[self.function], f"{self.function}: model code {code} not listed"
        self.may.add(code)
        self.why.append(f"(may) {code}: {why}")

    def type_refuses(self, code: str, why: str) -> None:
        assert code in TYPE_CODES, f"the type refused a value with {code} ({why})"
        self.must.add(code)
        self.refused_by_type = True
        self.why.append(f"{code}: {why} (the argument's type)")

    def __str__(self) -> str:
        return "; ".join(self.why) or "nothing: the call must succeed"


# ------------------------------------------------------------------ value semantics
PG_SPACES: set[str] = set()  # what PostgreSQL's \s matches; filled from the server


def blank(s: str | None) -> bool:
    """NULL, or no character outside \\s (the functions test val !~ '\\S')."""
    return s is None or all(ch in PG_SPACES for ch in s)


def flat(values: Any) -> list[Any]:
    if isinstance(values, list):
        return [x for v in values for x in flat(v)]
    return [values]


def pg_gt(a: float, b: float) -> bool:
    """a > b for float8 as PostgreSQL orders it: NaN above everything, equal to NaN."""
    if math.isnan(a):
        return not math.isnan(b)
    if math.isnan(b):
        return False
    return a > b


def pg_between(x: float, lo: float, hi: float) -> bool:
    return not pg_gt(lo, x) and not pg_gt(x, hi)


def unit_ok(x: float | None) -> bool:
    """memory._check_unit_interval: NaN, < 0 and > 1 are refused."""
    return x is not None and not math.isnan(x) and 0 <= x <= 1


@dataclass(frozen=True)
class Interval:
    """An interval literal with known fields (PostgreSQL compares intervals as
    months * 30 days + days * 24 hours + microseconds)."""

    months: int
    days: int
    micros: int

    @property
    def literal(self) -> str:
        sign = "-" if self.micros < 0 else ""
        us = abs(self.micros)
        secs, frac = divmod(us, 1_000_000)
        mins, s = divmod(secs, 60)
        hours, m = divmod(mins, 60)
        return f"{self.months} mons {self.days} days {sign}{hours}:{m:02}:{s:02}.{frac:06}"

    @property
    def span(self) -> int:
        return (self.months * 30 + self.days) * 86_400_000_000 + self.micros


DAY = 86_400_000_000


def interval_span(v: timedelta | Interval | None) -> int | None:
    if v is None:
        return None
    if isinstance(v, Interval):
        return v.span
    return (v.days * 86_400 + v.seconds) * 1_000_000 + v.microseconds


def interval_param(v: timedelta | Interval | None) -> Any:
    return v.literal if isinstance(v, Interval) else v


# ------------------------------------------------------------------ strategies
UTF8 = st.characters(codec="utf-8")  # every code point but the surrogates; NUL included
TEXT = st.text(UTF8, max_size=24)
WORDS = st.sampled_from(
    ["rain", "the launch was delayed by rain", "history of rome", "decision", "¿qué pasó?", "x"]
)
SPACES = "\t\n\x0b\x0c\r \u1680\u2003\u2028\u3000\x1c\x85\xa0\u2007\u202f"
BLANKISH = st.text(st.sampled_from(SPACES), max_size=5)
UNITS = ["x", "\u00e9", "\U0001d11e", "word ", "a b. ", " ", "n\x00"]
DIVERSE_CACHE: dict[int, str] = {}


def diverse(n: int) -> str:
    """n characters of distinct 4-character words of 4-byte letters (CJK Extension B):
    about 3.2 bytes of distinct lexemes per character, the worst case for a tsvector."""
    if n not in DIVERSE_CACHE:
        words = []
        for i in range(n // 5 + 1):
            a, b = divmod(i, 42000)
            words.append(
                chr(0x20000 + b) + chr(0x20000 + a) + chr(0x21000 + (i * 7) % 40000) + "\u4e00"
            )
        DIVERSE_CACHE[n] = " ".join(words)[:n]
    return DIVERSE_CACHE[n]


def long_text(limit: int) -> st.SearchStrategy[str]:
    """Texts of limit - 1, limit, limit + 1 and twice limit characters, by repetition
    (cheap), some of them blank or with a NUL; and one of many distinct words."""
    repeated = st.builds(
        lambda unit, n: (unit * (n // len(unit) + 1))[:n],
        st.sampled_from(UNITS),
        st.sampled_from([limit - 1, limit, limit + 1, 2 * limit]),
    )
    return mostly(repeated, st.sampled_from([limit - 1, limit]).map(diverse), 3)


def mostly(valid: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], n: int = 6):
    """valid about n times in n + 1 (each argument is out of bounds now and then, so that
    a good share of the calls is valid in every argument and reaches the success path).
    Not st.one_of(valid, valid, ..., bad): one_of merges equal branches."""
    return st.sampled_from([True] * n + [False]).flatmap(lambda ok: valid if ok else bad)


# a short text that is not blank (Python's notion is wider than PostgreSQL's \s: fine)
SOME_TEXT = st.one_of(WORDS, st.text(UTF8, min_size=1, max_size=24).filter(str.strip))


# idempotency keys (remember, learn_fact, set_working_memory): NULL mostly; else any text,
# which idem_key() makes unique per call (two examples sharing a key would be a retry
# with other arguments, 23505: sql/tests/idempotency covers that), or a bad length
IDEM_KEYS = mostly(st.none(), st.one_of(TEXT, st.sampled_from(["", "k" * 201])), 2)
IDEM_SERIAL = itertools.count()


def idem_key(e: Expect, key: str | None) -> str | None:
    """The key as sent (a key of 1..180 characters gets a unique suffix), with its rule."""
    if key and len(key) <= 180:
        key = f"{key}#{next(IDEM_SERIAL)}"
    e.rule(
        key is not None and "\x00" not in key and not 1 <= len(key) <= 200,
        "22023",
        "idempotency_key not 1..200 characters",
    )
    return key


def texts(limit: int, n: int = 6) -> st.SearchStrategy[str | None]:
    """Short non-blank text; now and then blank, NULL, any text or a long one."""
    return mostly(SOME_TEXT, st.one_of(BLANKISH, st.none(), TEXT, long_text(limit)), n)


FLOATS = st.one_of(
    st.floats(),
    st.floats(0, 1),
    st.sampled_from(
        [
            0.0,
            -0.0,
            1.0,
            0.5,
            1 + 2**-24,
            1 + 2**-23,
            -(2**-149),
            1e-45,
            1e-46,
            5e-324,
            1e-300,
            1e300,
            FLT_MAX,
            3.4028236e38,
            math.nan,
            math.inf,
            -math.inf,
            -1.0,
            2.0,
        ]
    ),
    st.none(),
)
UNIT_FLOATS = mostly(st.floats(0, 1), FLOATS)
INTS = st.one_of(
    st.integers(-3, 2000),
    st.sampled_from(
        [0, -1, INT4[0], INT4[1], INT4[0] - 1, INT4[1] + 1, 2**63 - 1, -(2**63), 2**64]
    ),
    st.integers(),
    st.none(),
)


def ints(lo: int, hi: int) -> st.SearchStrategy[int | None]:
    return mostly(st.integers(lo, hi), INTS)


TIMES = mostly(
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    ),
    st.sampled_from(
        [
            "infinity",
            "-infinity",
            "4713-11-24 00:00:00+00 BC",
            "294276-12-31 23:59:59.999999+00",
            "294277-01-01 00:00:00+00",
            "4714-11-23 00:00:00+00 BC",
            "1900-01-01 00:00:00+00",
            "epoch",
            None,
        ]
    ),
    3,
)
INTERVALS = st.one_of(
    st.timedeltas(),
    st.builds(
        Interval,
        st.integers(-15, 15),
        st.integers(-400, 400),
        st.integers(-(10**12), 10**12),
    ),
    st.sampled_from(
        [
            timedelta(0),
            timedelta(microseconds=1),
            timedelta(microseconds=-1),
            timedelta(days=366),
            timedelta(days=366, microseconds=1),
            Interval(12, 6, 0),
            Interval(-1, 30, 1),
            Interval(1, -29, 0),
            Interval(1, -31, 0),
            Interval(12, 0, 0),
            Interval(13, 0, 0),
        ]
    ),
    st.none(),
)

# intervals whose months and days have opposite signs, near 0 and near 366 days
MONTHLY = st.builds(
    lambda months, days, micros: Interval(months, days - 30 * months, micros),
    st.integers(1, 13).flatmap(lambda m: st.sampled_from([m, -m])),
    st.one_of(st.integers(-3, 3), st.integers(360, 370)),
    st.sampled_from([0, 1, -1, DAY - 1]),
)

TAG = st.one_of(
    st.text(UTF8, min_size=1, max_size=10),
    st.sampled_from(["", "decision", "seed", "t", "x" * 100, "x" * 101, "\U0001d11e" * 100]),
    st.none(),
)
TAGS = mostly(
    st.lists(
        st.one_of(
            st.sampled_from(["seed", "decision", "t"]), st.text(UTF8, min_size=1, max_size=10)
        ),
        max_size=4,
    ),
    st.one_of(
        st.none(),
        st.lists(TAG, max_size=5),
        st.builds(
            lambda n, t: [t] * n, st.sampled_from([63, 64, 65, 1000]), st.sampled_from(["t", ""])
        ),
        st.integers(1, 3).flatmap(
            lambda k: st.lists(st.lists(TAG, min_size=k, max_size=k), min_size=1, max_size=3)
        ),
    ),
)

JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(UTF8, max_size=12),
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(UTF8, max_size=6), c, max_size=4),
    max_leaves=10,
)


def json_text(value: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.builds(lambda v, asc: json.dumps(v, ensure_ascii=asc), value, st.booleans())


def big_json(limit: int) -> st.SearchStrategy[str]:
    """{"k": "xxx..."} whose JSON text is limit - 1 .. limit + 1 bytes, and much more."""
    return st.sampled_from([limit - 1, limit, limit + 1, 2 * limit]).map(
        lambda n: json.dumps({"k": "x" * (n - 9)})
    )


def deep_json(depth: int) -> str:
    return '{"a": ' * depth + "[]" + "}" * depth


JSON_SPECIAL = st.one_of(
    st.sampled_from(
        ['{"a": "\\u0000"}', '{"\\u0000": 1}', "[]", "[1, 2]", '"text"', "1", "null", "true", "{}"]
    ),
    st.sampled_from([1, 100, 5000, 10000, 30000]).map(deep_json),
)


def jsons(limit: int) -> st.SearchStrategy[str | None]:
    objects = json_text(st.dictionaries(st.text(UTF8, max_size=8), JSON_VALUE, max_size=4))
    return mostly(
        objects, st.one_of(json_text(JSON_VALUE), JSON_SPECIAL, big_json(limit), st.none())
    )


def label_like(pattern: str, max_len: int) -> st.SearchStrategy[str | None]:
    """Valid names of a pattern, and near misses (case, length, spaces, accents, NUL)."""
    valid = st.from_regex(pattern, fullmatch=True)
    near = st.one_of(
        valid.map(str.upper),
        valid.map(lambda s: s + "\n"),
        valid.map(lambda s: " " + s),
        st.sampled_from(
            ["", "a" * max_len, "a" * (max_len + 1), "persöna", "_x", "1abc", "a-b", "a.b", "a\x00"]
        ),
        TEXT,
        st.none(),
    )
    return mostly(valid, near, 3)


# an id: the agent's own, another agent's, NULL, or any other uuid (hypothesis draws it)
UUIDS = st.uuids()
ID_CHOICES = st.one_of(st.sampled_from(["own", "own", "other", "null"]), UUIDS)


# ------------------------------------------------------------------ the harness
def note(value: str) -> None:
    """Records a hypothesis event; a plain test (no @given) calling Api.call has none."""
    if currently_in_test_context():
        event(value)


class Api:
    """The scratch database, its agents, and the call-and-check loop."""

    def __init__(self, db: ScratchDatabase) -> None:
        self.db = db
        self.su = db.connect()
        self.stack = contextlib.ExitStack()
        self.roles: dict[str, str] = {}
        self.conns: dict[str, psycopg.Connection] = {}
        self.ids: dict[str, Any] = {}
        tables = [
            r[0]
            for r in self.su.execute(
                "SELECT c.relname FROM pg_catalog.pg_class AS c WHERE c.relnamespace = 'memory'::regnamespace "
                "AND c.relkind = 'r' ORDER BY 1"
            ).fetchall()
        ]
        self.fingerprint_sql = sql.SQL("SELECT concat_ws(' ', {})").format(
            sql.SQL(", ").join(
                sql.SQL(
                    "(SELECT {name} || '=' || count(*) || '/' "
                    "|| coalesce(md5(string_agg(x.ctid::text || x.xmin::text, ',' ORDER BY x.ctid)), '') "
                    "FROM memory.{table} AS x)"
                ).format(name=sql.Literal(t), table=sql.Identifier(t))
                for t in tables
            )
        )
        spaces = self.su.execute(
            r"SELECT string_agg(chr(i), '') FROM generate_series(1, 1114111) AS i "
            r"WHERE (i < 55296 OR i > 57343) AND chr(i) ~ '\s'"
        ).fetchone()[0]
        PG_SPACES.clear()
        PG_SPACES.update(spaces)

    def agent(self, name: str) -> psycopg.Connection:
        if name not in self.conns:
            self.roles[name] = self.db.make_agent(name)
            self.conns[name] = self.stack.enter_context(self.db.as_agent(self.roles[name]))
        return self.conns[name]

    def agent_id(self, name: str) -> uuid.UUID:
        return self.agent(name).execute("SELECT memory.current_agent()").fetchone()[0]

    def close(self) -> None:
        self.stack.close()
        self.su.close()

    def one(self, query: str, params: Any = ()) -> Any:
        row = self.su.execute(query, params).fetchone()
        return row[0] if row and len(row) == 1 else row

    def fingerprint(self) -> str:
        return self.su.execute(self.fingerprint_sql).fetchone()[0]

    def call(
        self, query: str, params: list[Any], e: Expect, who: str = "Prop"
    ) -> list[tuple] | None:
        """Runs the call as agent `who`; checks the outcome against e. Returns the rows of a
        successful call, None for a refused one."""
        before = self.fingerprint() if e.must or e.may else None
        try:
            rows = self.agent(who).execute(query, params).fetchall()
        except psycopg.Error as exc:
            assert exc.sqlstate is not None, f"client-side error (a bug of the test): {exc!r}"
            message = str(exc).splitlines()[0] if str(exc) else ""
            allowed = e.must | e.may
            assert exc.sqlstate in allowed, (
                f"{e.function} raised {exc.sqlstate} ({message}); expected {e}"
            )
            assert before is not None
            assert self.fingerprint() == before, (
                f"{e.function} failed with {exc.sqlstate} but stored data changed"
            )
            note(f"refused with {exc.sqlstate}")
            return None
        note("succeeded")
        assert not e.must, f"{e.function} succeeded; expected a refusal: {e}"
        return rows

    # --- what the argument types refuse (probed with a bare cast where needed)
    def texts_in(self, e: Expect, *values: Any) -> None:
        for v in flat(list(values)):
            if isinstance(v, str) and "\x00" in v:
                e.type_refuses("22021", "a NUL character in a text")
                return

    def real_in(self, e: Expect, x: float | None) -> float | None:
        """The value x becomes as a real (float8 to float4: overflow and underflow refused)."""
        if x is None or math.isnan(x) or math.isinf(x):
            return x
        with np.errstate(over="ignore", under="ignore"):
            f = float(np.float32(x))
        if math.isinf(f) or (f == 0 and x != 0):
            e.type_refuses("22003", f"{x!r} is not a real")
            return None
        return f

    def int4_in(self, e: Expect, x: int | None) -> None:
        if x is not None and not INT4[0] <= x <= INT4[1]:
            e.type_refuses("22003", f"{x} is not an integer")

    def json_in(self, e: Expect, text: str | None) -> tuple[str, int] | None:
        """(jsonb_typeof, octet_length of the jsonb's text) of a JSON argument."""
        if text is None:
            return None
        try:
            with self.su.transaction():
                row = self.su.execute(
                    "SELECT jsonb_typeof(j), octet_length(j::text) FROM (SELECT %b::jsonb AS j) AS x",
                    [text],
                ).fetchone()
        except psycopg.Error as exc:
            e.type_refuses(exc.sqlstate or "?", "JSON the jsonb type refuses")
            return None
        return row[0], row[1]

    def time_in(self, e: Expect, v: datetime | str | None) -> float | None:
        """Epoch seconds of a timestamptz argument (±inf for ±infinity); None for NULL."""
        if v is None:
            return None
        if isinstance(v, datetime):
            return v.timestamp()
        try:
            with self.su.transaction():
                return self.one("SELECT extract(EPOCH FROM %b::timestamptz)::float8", [v])
        except psycopg.Error as exc:
            e.type_refuses(exc.sqlstate or "?", f"{v!r} is not a timestamptz")
            return None

    def vector_in(self, e: Expect, literal: str | None) -> int | None:
        if literal is None:
            return None
        try:
            with self.su.transaction():
                return self.one("SELECT vector_dims(%b::public.vector)", [literal])
        except psycopg.Error as exc:
            e.type_refuses(exc.sqlstate or "?", "a vector the vector type refuses")
            return None

    def now(self) -> float:
        return self.one("SELECT extract(EPOCH FROM clock_timestamp())::float8")


def md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def check_tags(e: Expect, tags: Any) -> None:
    """The rules of memory._check_tags."""
    if tags is None:
        return
    elems = flat(tags)
    e.rule(len(elems) > 64, "22023", "more than 64 tags")
    e.rule(any(isinstance(t, list) for t in tags), "22023", "tags not one-dimensional")
    e.rule(
        any(t is None or not 1 <= len(t) <= 100 for t in elems),
        "22023",
        "a NULL, empty or long tag",
    )


def check_between(e: Expect, name: str, val: float | None, lo: int, hi: int) -> None:
    """A number that must be given, within lo..hi (22023)."""
    e.rule(val is None or not pg_between(val, lo, hi), "22023", f"{name} outside {lo}..{hi}")


def check_text(e: Expect, name: str, val: str | None, limit: int) -> None:
    """The rules of memory._check_text."""
    e.rule(blank(val), "22023", f"{name} blank")
    e.rule(val is not None and len(val) > limit, "22001", f"{name} over {limit} characters")


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    db = ScratchDatabase("badinput").create()
    harness = None
    try:
        harness = Api(db)
        seed(harness)
        yield harness
    finally:
        if harness is not None:
            harness.close()
        db.drop()


def seed(api: Api) -> None:
    """Memory that makes the searches and the id arguments interesting."""
    me, other, voter = api.agent("Prop"), api.agent("Other"), api.agent("Voter")
    ids = api.ids

    def remember(conn: psycopg.Connection, content: str, **kw: Any) -> uuid.UUID:
        types = {"importance": "real", "tags": "text[]", "occurred_at": "timestamptz"}
        cols = ", ".join(f"{k} => %({k})s::{types.get(k, 'text')}" for k in kw)
        query = f"SELECT memory.remember(%(content)s{', ' if kw else ''}{cols})"
        return conn.execute(query, {"content": content, **kw}).fetchone()[0]

    ids["episodes"] = [
        remember(me, "the launch was delayed by rain", tags=["seed", "decision"], project="proj"),
        remember(me, "history of rome, long ago", occurred_at="1900-01-01", importance=1e-45),
        remember(me, "the first rain on record", occurred_at="4713-11-24 00:00:00+00 BC"),
        remember(
            me, "rain in the far future", occurred_at="294276-12-31 00:00:00+00", session_id="s1"
        ),
    ]
    ids["update_target"] = remember(me, "an episode to update", tags=["t"])
    gone = remember(me, "an episode already forgotten")
    me.execute("SELECT memory.forget_episode(%s)", [gone])
    ids["forgotten"] = gone
    ids["other_episode"] = remember(other, "another agent's rain")
    # vectors for the seeded episodes, as the daemon would store them
    rng = np.random.default_rng(8)
    for ep in [*ids["episodes"], ids["update_target"], ids["other_episode"]]:
        v = rng.normal(size=SERVING_DIMS)
        v /= np.linalg.norm(v)
        api.su.execute(
            "INSERT INTO memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, char_end, "
            "content_sha256, embedding) SELECT e.agent_id, e.episode_id, m.model_id, 0, 0, "
            "char_length(e.content), e.content_sha256, %s::public.vector FROM memory.episodes AS e, "
            "memory.embedding_models AS m WHERE e.episode_id = %s AND m.is_serving",
            ["[" + ",".join(f"{x:.6f}" for x in v) + "]", ep],
        )

    def fact(
        conn: psycopg.Connection, concept: str, statement: str, confidence: float, since: str
    ) -> uuid.UUID:
        return conn.execute(
            "SELECT memory.learn_fact(%s, %s, %s::real, valid_from => %s::timestamptz)",
            [concept, statement, confidence, since],
        ).fetchone()[0]

    ids["fact_a"] = fact(me, "sky", "the sky is blue", 0.9, "2000-01-01")
    ids["fact_b"] = fact(me, "rain", "rain is wet", 1e-40, "2000-01-01")
    ids["closed_fact"] = fact(me, "moon", "the moon is cheese", 0.1, "2000-01-01")
    me.execute("SELECT memory.invalidate_fact(%s, '2001-01-01')", [ids["closed_fact"]])
    ids["other_fact"] = fact(other, "sea", "the sea is green", 0.5, "2000-01-01")
    me.execute("SELECT memory.set_block('persona', 'I am Prop.', 'who I am', 100)")
    me.execute("SELECT memory.set_block('guarded', 'fixed', NULL, 5000, true)")
    ids["checkpoints"] = [me.execute("SELECT memory.create_checkpoint()").fetchone()[0]]
    ids["other_checkpoint"] = other.execute("SELECT memory.create_checkpoint()").fetchone()[0]
    me.execute(
        "SELECT memory.set_working_memory('task', '{\"step\": 1}', '1 hour', 'high', 'current')"
    )
    ids["instance"] = me.execute("SELECT memory.register_instance('prop-1')").fetchone()[0]
    ids["other_instance"] = other.execute("SELECT memory.register_instance('other-1')").fetchone()[
        0
    ]
    ids["other_decision"] = other.execute("SELECT memory.propose_decision('x', '{}')").fetchone()[0]
    for name in ("live1", "live2", "live3", "stale"):
        ids[name] = voter.execute("SELECT memory.register_instance(%s)", [name]).fetchone()[0]
    api.su.execute(
        "UPDATE memory.instances SET last_heartbeat = now() - interval '1 hour' WHERE instance_id = %s",
        [ids["stale"]],
    )
    ids["resolved"] = voter.execute("SELECT memory.propose_decision('settled', '{}')").fetchone()[0]
    for name in ("live1", "live2"):
        voter.execute("SELECT memory.vote(%s, %s, true)", [ids["resolved"], ids[name]])


def unknown(choice: Any) -> bool:
    """Another agent's id or a uuid nobody has: the very same error for both."""
    return choice == "other" or isinstance(choice, uuid.UUID)


def pick(api: Api, choice: Any, own: Callable[[], Any], other_key: str | None = None) -> Any:
    if isinstance(choice, uuid.UUID):
        return choice
    if choice == "own":
        return own()
    if choice == "other":
        return api.ids[other_key]
    if choice == "null":
        return None
    return api.ids[choice]


# ------------------------------------------------------------------ documentation
def sqlstates(text: str) -> set[str]:
    codes = set()
    for token in re.findall(r"\b[0-9A-Z]{5}\b", text):
        try:
            psycopg.errors.lookup(token)
        except KeyError:
            continue
        codes.add(token)
    return codes


def test_models_only_use_documented_sqlstates(api: Api) -> None:
    """Every SQLSTATE a model requires is in its function's COMMENT ON FUNCTION, and every
    code the argument types may raise is in the README's Errors table."""

    def comment(name: str) -> str:
        signature = SIGNATURES.get(name)
        if signature:
            return api.one("SELECT obj_description(%s::regprocedure, 'pg_proc')", [signature]) or ""
        rows = api.su.execute(
            "SELECT obj_description(p.oid, 'pg_proc') FROM pg_catalog.pg_proc AS p "
            "WHERE p.pronamespace = 'memory'::regnamespace AND p.proname = %s",
            [name],
        ).fetchall()
        assert len(rows) == 1, f"memory.{name}: {len(rows)} functions"
        return rows[0][0] or ""

    undocumented = {}
    for name, codes in MODEL_CODES.items():
        documented = sqlstates(comment(name))
        if name in INHERITS:
            documented |= sqlstates(comment(INHERITS[name]))
        if codes - documented:
            undocumented[name] = sorted(codes - documented)
    assert not undocumented, f"raised but not in COMMENT ON FUNCTION: {undocumented}"

    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Errors", 1)[1].split("\n### ", 1)[0]
    in_table = sqlstates("\n".join(line for line in table.splitlines() if line.startswith("|")))
    missing = sorted(TYPE_CODES - in_table)
    assert not missing, f"not in the README's Errors table: {missing}"


def test_the_harness_sees_a_stored_change(api: Api) -> None:
    """The fingerprint is not blind: a change of one value of one row changes it."""
    before = api.fingerprint()
    api.su.execute(
        "UPDATE memory.episodes SET importance = importance WHERE episode_id = %s",
        [api.ids["update_target"]],
    )
    assert api.fingerprint() != before


# ------------------------------------------------------------------ episodic memory
REMEMBER = "SELECT memory.remember(%b::text, %b::real, %b::text[], %b::text, %b::timestamptz, %b::jsonb, %b::text, %b::text)"


def check_stored_episode(
    api: Api, episode: uuid.UUID, content: str, importance: float, tags: Any, meta: str | None
) -> None:
    row = api.su.execute(
        "SELECT md5(content), importance::float8, tags, metadata = coalesce(%b::jsonb, '{}') FROM memory.episodes WHERE episode_id = %s",
        [meta, episode],
    ).fetchone()
    assert row is not None, "the episode is not stored"
    assert row[0] == md5(content), "the content does not read back exactly"
    assert row[1] == importance
    assert row[2] == tags
    assert row[3], "the metadata does not read back"


@PROPERTY
@given(
    content=texts(500_000),
    importance=UNIT_FLOATS,
    tags=TAGS,
    project=mostly(st.none(), texts(200), 2),
    occurred_at=TIMES,
    metadata=jsons(65_536),
    session_id=mostly(st.none(), texts(200), 2),
    idempotency_key=IDEM_KEYS,
)
def test_remember(
    api: Api, content, importance, tags, project, occurred_at, metadata, session_id, idempotency_key
) -> None:
    e = Expect("remember")
    api.texts_in(e, content, tags, project, session_id, idempotency_key)
    imp = api.real_in(e, importance)
    when = api.time_in(e, occurred_at)
    meta = api.json_in(e, metadata)
    if not e.refused_by_type:
        check_text(e, "content", content, 500_000)
        e.rule(not unit_ok(0.5 if imp is None else imp), "22003", "importance outside 0..1")
        check_tags(e, tags)
        if project is not None:
            check_text(e, "project", project, 200)
        e.rule(when is not None and math.isinf(when), "22008", "occurred_at infinite")
        e.rule(meta is not None and meta[0] != "object", "22023", "metadata not an object")
        e.rule(meta is not None and meta[1] > 65_536, "54000", "metadata over 64 KiB")
        if session_id is not None:
            check_text(e, "session_id", session_id, 200)
        idempotency_key = idem_key(e, idempotency_key)
    rows = api.call(
        REMEMBER,
        [content, importance, tags, project, occurred_at, metadata, session_id, idempotency_key],
        e,
    )
    if rows is not None:
        check_stored_episode(
            api, rows[0][0], content, 0.5 if imp is None else imp, tags or [], metadata
        )
        check_stored_key(api, idempotency_key, "remember", rows[0][0])


def check_stored_key(api: Api, key: str | None, operation: str, result: uuid.UUID) -> None:
    if key is not None:
        got = api.su.execute(
            "SELECT operation, result_id FROM memory.idempotency_keys WHERE idempotency_key = %s",
            [key],
        ).fetchone()
        assert got == (operation, result), "the idempotency key is not stored with its id"


@PROPERTY
@given(
    which=st.one_of(st.sampled_from(["own", "own", "own", "other", "null", "forgotten"]), UUIDS),
    content=mostly(st.none(), texts(500_000), 2),
    importance=mostly(st.none(), UNIT_FLOATS, 2),
    tags=mostly(st.none(), TAGS, 2),
    metadata=mostly(st.none(), jsons(65_536), 2),
)
def test_update_episode(api: Api, which, content, importance, tags, metadata) -> None:
    target = pick(api, which, lambda: api.ids["update_target"], "other_episode")
    e = Expect("update_episode")
    api.texts_in(e, content, tags)
    imp = api.real_in(e, importance)
    meta = api.json_in(e, metadata)
    if not e.refused_by_type:
        # the value checks are immutable: PostgreSQL may run them while planning, before it
        # finds that the episode is not there, so either error can come first
        e.rule(which != "own", "P0002", "not an episode of this agent")
        if content is not None:
            check_text(e, "content", content, 500_000)
        e.rule(importance is not None and not unit_ok(imp), "22003", "importance outside 0..1")
        check_tags(e, tags)
        e.rule(meta is not None and meta[0] != "object", "22023", "metadata not an object")
        e.rule(meta is not None and meta[1] > 65_536, "54000", "metadata over 64 KiB")
    old = api.su.execute(
        "SELECT content, importance::float8, tags, metadata::text FROM memory.episodes WHERE episode_id = %s",
        [api.ids["update_target"]],
    ).fetchone()
    rows = api.call(
        "SELECT memory.update_episode(%b::uuid, %b::text, %b::real, %b::text[], %b::jsonb)",
        [target, content, importance, tags, metadata],
        e,
    )
    if rows is not None:
        check_stored_episode(
            api,
            target,
            old[0] if content is None else content,
            old[1] if importance is None else imp,
            old[2] if tags is None else tags,
            old[3] if metadata is None else metadata,
        )


@PROPERTY
@given(which=st.one_of(st.sampled_from(["own", "own", "other", "null", "forgotten"]), UUIDS))
def test_forget_episode(api: Api, which) -> None:
    me = api.agent("Prop")
    target = pick(
        api,
        which,
        lambda: me.execute("SELECT memory.remember('to forget')").fetchone()[0],
        "other_episode",
    )
    e = Expect("forget_episode")
    e.rule(which != "own", "P0002", "not an episode of this agent")
    rows = api.call("SELECT memory.forget_episode(%b::uuid)", [target], e)
    if rows is not None:
        assert api.one("SELECT count(*) FROM memory.episodes WHERE episode_id = %s", [target]) == 0


# ------------------------------------------------------------------ semantic memory
EARLY, LATE = "2000-01-01 00:00:00+00", "3000-01-01 00:00:00+00"
EARLY_EPOCH, LATE_EPOCH = 946_684_800.0, 32_503_680_000.0


def new_fact(api: Api, since: str) -> uuid.UUID:
    return (
        api.agent("Prop")
        .execute(
            "SELECT memory.learn_fact('fresh', 'a fresh fact', valid_from => %s::timestamptz)",
            [since],
        )
        .fetchone()[0]
    )


SOURCE_CHOICES = st.one_of(
    st.lists(st.one_of(st.sampled_from(["own", "own", "other", "null"]), UUIDS), max_size=4),
    st.sampled_from([["own"] * 1000, ["own"] * 1001]),
)
SUPERSEDE_CHOICES = st.one_of(
    st.lists(
        st.one_of(st.sampled_from(["open", "open", "later", "closed", "other", "null"]), UUIDS),
        max_size=3,
    ),
    UUIDS.map(lambda u: [u] * 1001),
)


@PROPERTY
@given(
    concept=texts(500),
    statement=texts(100_000),
    confidence=UNIT_FLOATS,
    sources=mostly(st.none(), SOURCE_CHOICES, 2),
    valid_from=mostly(st.just(EARLY), TIMES, 1),
    supersedes=mostly(st.none(), SUPERSEDE_CHOICES, 2),
    idempotency_key=IDEM_KEYS,
)
def test_learn_fact(
    api: Api, concept, statement, confidence, sources, valid_from, supersedes, idempotency_key
) -> None:
    ids = api.ids
    fresh: dict[str, uuid.UUID] = {}
    source_ids = (
        None
        if sources is None
        else [pick(api, c, lambda: ids["episodes"][0], "other_episode") for c in sources]
    )
    old: list[tuple[str, uuid.UUID | None]] = []
    for c in supersedes or []:
        if c in ("open", "later"):
            fresh_id = fresh.get(c) or new_fact(api, EARLY if c == "open" else LATE)
            fresh[c] = fresh_id
            old.append((c, fresh_id))
        else:
            old.append(
                (c, pick(api, {"closed": "closed_fact"}.get(c, c), lambda: None, "other_fact"))
            )
    e = Expect("learn_fact")
    api.texts_in(e, concept, statement, idempotency_key)
    conf = api.real_in(e, confidence)
    starts = api.time_in(e, valid_from)
    if not e.refused_by_type:
        starts_at = api.now() if starts is None else starts
        e.rule(starts is not None and math.isinf(starts), "22008", "valid_from infinite")
        e.rule(len(sources or []) > 1000 or len(old) > 1000, "22023", "over 1000 ids")
        e.rule(any(c != "own" for c in sources or []), "P0002", "a source episode not the agent's")
        check_text(e, "concept", concept, 500)
        check_text(e, "statement", statement, 100_000)
        e.rule(not unit_ok(0.5 if conf is None else conf), "22003", "confidence outside 0..1")
        e.rule(any(c == "closed" for c, _ in old), "55000", "superseding a closed fact")
        e.rule(
            any(unknown(c) or c == "null" for c, _ in old), "P0002", "superseding an unknown fact"
        )
        e.rule(
            (any(c == "open" for c, _ in old) and pg_gt(EARLY_EPOCH, starts_at))
            or (any(c == "later" for c, _ in old) and pg_gt(LATE_EPOCH, starts_at)),
            "22023",
            "superseding a fact that starts later",
        )
        idempotency_key = idem_key(e, idempotency_key)
    rows = api.call(
        "SELECT memory.learn_fact(%b::text, %b::text, %b::real, %b::uuid[], %b::timestamptz, %b::uuid[], %b::text)",
        [
            concept,
            statement,
            confidence,
            source_ids,
            valid_from,
            None if supersedes is None else [i for _, i in old],
            idempotency_key,
        ],
        e,
    )
    if rows is not None:
        new_id = rows[0][0]
        check_stored_key(api, idempotency_key, "learn_fact", new_id)
        got = api.su.execute(
            "SELECT md5(concept), md5(statement), confidence::float8, source_episodes, extract(EPOCH FROM valid_from)::float8 "
            "FROM memory.facts WHERE fact_id = %s",
            [new_id],
        ).fetchone()
        assert got[:3] == (md5(concept), md5(statement), 0.5 if conf is None else conf)
        assert sorted(got[3]) == sorted(set(source_ids or []))
        if starts is not None:
            assert got[4] == pytest.approx(starts, abs=1e-6)
        for _, fact_id in old:
            closed = api.su.execute(
                "SELECT superseded_by, valid_to = f.valid_to FROM memory.facts AS f WHERE fact_id = %s",
                [fact_id],
            ).fetchone()
            assert closed[0] == new_id, "a superseded fact is not linked to its successor"


@PROPERTY
@given(
    which=st.one_of(st.sampled_from(["own", "own", "future", "closed", "other", "null"]), UUIDS),
    valid_to=mostly(st.none(), TIMES, 1),
)
def test_invalidate_fact(api: Api, which, valid_to) -> None:
    if which in ("own", "future"):
        target = new_fact(api, EARLY if which == "own" else LATE)
    else:
        target = pick(api, {"closed": "closed_fact"}.get(which, which), lambda: None, "other_fact")
    e = Expect("invalidate_fact")
    ends = api.time_in(e, valid_to)
    if not e.refused_by_type:
        ends_at = api.now() if ends is None else ends
        e.rule(ends is not None and math.isinf(ends), "22008", "valid_to infinite")
        e.rule(unknown(which) or which == "null", "P0002", "not a fact of this agent")
        e.rule(which == "closed", "55000", "the fact is closed")
        e.rule(
            which == "own" and pg_gt(EARLY_EPOCH, ends_at), "22023", "valid_to before valid_from"
        )
        e.rule(
            which == "future" and pg_gt(LATE_EPOCH, ends_at), "22023", "valid_to before valid_from"
        )
    rows = api.call(
        "SELECT memory.invalidate_fact(%b::uuid, %b::timestamptz)", [target, valid_to], e
    )
    if rows is not None:
        got = api.su.execute(
            "SELECT extract(EPOCH FROM valid_to)::float8, invalidated_at IS NOT NULL FROM memory.facts WHERE fact_id = %s",
            [target],
        ).fetchone()
        assert got[1], "the fact is not marked invalidated"
        if ends is not None:
            assert got[0] == pytest.approx(ends, abs=1e-6)


RELATIONS = label_like(r"[a-z][a-z0-9_]{0,62}", 63)


@PROPERTY
@given(
    a=st.one_of(
        st.sampled_from(["fact_a", "fact_a", "fact_b", "closed_fact", "other", "null"]), UUIDS
    ),
    b=st.one_of(
        st.sampled_from(["fact_b", "fact_b", "fact_a", "closed_fact", "other", "null"]), UUIDS
    ),
    relation=RELATIONS,
    strength=UNIT_FLOATS,
)
def test_link_facts(api: Api, a, b, relation, strength) -> None:
    from_fact = pick(api, a, lambda: None, "other_fact")
    to_fact = pick(api, b, lambda: None, "other_fact")
    e = Expect("link_facts")
    api.texts_in(e, relation)
    s = api.real_in(e, strength)
    if not e.refused_by_type:
        e.rule(not unit_ok(1.0 if s is None else s), "22003", "strength outside 0..1")
        e.rule(
            relation is None or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", relation),
            "22023",
            "bad relation",
        )
        e.rule(unknown(a) or unknown(b) or None in (from_fact, to_fact), "P0002", "unknown fact")
        e.rule(a == b, "22023", "a self link")
    rows = api.call(
        "SELECT memory.link_facts(%b::uuid, %b::uuid, %b::text, %b::real)",
        [from_fact, to_fact, relation, strength],
        e,
    )
    if rows is not None:
        got = api.one(
            "SELECT strength::float8 FROM memory.fact_links WHERE from_fact = %s AND to_fact = %s AND relation = %s",
            [from_fact, to_fact, relation],
        )
        assert got == (1.0 if s is None else s)


# ------------------------------------------------------------------ search
MODES = mostly(
    st.sampled_from(["hybrid", "vector", "text"]),
    st.one_of(st.sampled_from(["fuzzy", "", "TEXT", "text "]), TEXT, st.none()),
    8,
)
WEIGHTS = mostly(
    st.floats(0, 0.5),
    st.one_of(st.sampled_from([0.0, 5e-324, 1e-300, 1e-12, 0.5, 1.0, -0.0, -1e-300]), FLOATS),
    3,
)
# a weight of 0..1 that must be given (NULL refused), mostly valid
SHARES = mostly(st.floats(0, 1), st.one_of(st.sampled_from([5e-324, 1e-300, 1.0, 0.0]), FLOATS), 3)
QUERIES = mostly(WORDS, st.one_of(TEXT, BLANKISH, st.none(), long_text(10_000)), 3)


@PROPERTY
@given(
    query=QUERIES,
    k=ints(1, 1000),
    mode=MODES,
    tags=mostly(st.none(), TAGS, 4),
    project=mostly(st.none(), st.one_of(st.just("proj"), TEXT), 4),
    session_id=mostly(st.none(), st.one_of(st.just("s1"), TEXT), 4),
    since=mostly(st.none(), TIMES, 4),
    until=mostly(st.none(), TIMES, 4),
    min_importance=mostly(st.none(), UNIT_FLOATS, 4),
    recency_weight=WEIGHTS,
    importance_weight=WEIGHTS,
    half_life=mostly(st.just(timedelta(days=30)), INTERVALS, 3),
    text_weight=SHARES,
    candidates=mostly(st.none(), INTS, 4),
    neighbour_weight=SHARES,
    neighbour_seeds=mostly(ints(0, 100), INTS, 3),
    neighbour_own_weight=SHARES,
    include_shared=mostly(st.booleans(), st.none(), 6),
)
def test_search_episodic_memory_by_text(
    api: Api,
    query,
    k,
    mode,
    tags,
    project,
    session_id,
    since,
    until,
    min_importance,
    recency_weight,
    importance_weight,
    half_life,
    text_weight,
    candidates,
    neighbour_weight,
    neighbour_seeds,
    neighbour_own_weight,
    include_shared,
) -> None:
    e = Expect("search_episodic_memory(text)")
    api.texts_in(e, query, mode, tags, project, session_id)
    for n in (k, candidates, neighbour_seeds):
        api.int4_in(e, n)
    low = api.time_in(e, since)
    high = api.time_in(e, until)
    least = api.real_in(e, min_importance)
    rw, iw = recency_weight, importance_weight
    if not e.refused_by_type:
        e.rule(k is None or not 1 <= k <= 1000, "22023", "k outside 1..1000")
        e.rule(mode not in ("hybrid", "vector", "text"), "22023", "unknown mode")
        check_text(e, "query", query, 10_000)
        check_tags(e, tags)
        e.rule(
            min_importance is not None and not unit_ok(least),
            "22003",
            "min_importance outside 0..1",
        )
        e.rule(
            low is not None and high is not None and pg_gt(low, high), "22023", "since after until"
        )
        e.rule(
            rw is None or iw is None or pg_gt(0, rw) or pg_gt(0, iw) or pg_gt(rw + iw, 1),
            "22023",
            "bad weights",
        )
        span = interval_span(half_life)
        e.rule(span is None or span <= 0, "22023", "recency_half_life not positive")
        check_between(e, "text_weight", text_weight, 0, 1)
        e.rule(
            candidates is not None and not 1 <= candidates <= 10_000,
            "22023",
            "candidates outside 1..10000",
        )
        check_between(e, "neighbour_weight", neighbour_weight, 0, 1)
        e.rule(
            neighbour_seeds is None or not 0 <= neighbour_seeds <= 100,
            "22023",
            "neighbour_seeds outside 0..100",
        )
        check_between(e, "neighbour_own_weight", neighbour_own_weight, 0, 1)
        e.rule(include_shared is None, "22023", "include_shared NULL")
    rows = api.call(
        "SELECT s.episode_id, s.score, s.vector_score, s.importance::float8, s.tags, s.session_id, "
        "extract(EPOCH FROM s.occurred_at)::float8, s.owner FROM memory.search_episodic_memory(%b::text, "
        "%b::integer, %b::text, %b::text[], %b::text, %b::text, %b::timestamptz, %b::timestamptz, %b::real, "
        "%b::double precision, %b::double precision, %b::interval, %b::double precision, %b::integer, "
        "%b::double precision, %b::integer, %b::double precision, %b::boolean) AS s",
        [
            query,
            k,
            mode,
            tags,
            project,
            session_id,
            since,
            until,
            min_importance,
            rw,
            iw,
            interval_param(half_life),
            text_weight,
            candidates,
            neighbour_weight,
            neighbour_seeds,
            neighbour_own_weight,
            include_shared,
        ],
        e,
    )
    if rows is not None:
        assert len(rows) <= k
        own = set(
            api.su.execute(
                "SELECT episode_id FROM memory.episodes WHERE agent_id = %s", [api.agent_id("Prop")]
            ).fetchall()
        )
        # nothing is shared with Prop (test_share grants Prop's memory to others)
        for episode_id, score, vector_score, importance, got_tags, got_session, at, owner in rows:
            assert (episode_id,) in own, "a result that is not the agent's"
            assert owner == "Prop", f"owner {owner!r}"
            assert math.isfinite(score), f"score {score}"
            assert vector_score is None, "a vector score without an embed daemon"
            assert not tags or set(flat(tags)) <= set(got_tags)
            assert session_id is None or got_session == session_id
            assert least is None or importance >= least
            assert low is None or at >= low - 1e-6
            assert high is None or at <= high + 1e-6


def vector_literal(values: list[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in values) + "]"


def seeded_vector(seed: int, scale: float, edits: list[tuple[int, float]]) -> str:
    """A 384-dimensional vector from a seed (cheaper than 384 draws), scaled, with a few
    elements replaced by values hypothesis picks (NaN, infinities, subnormals, ...)."""
    values = np.random.default_rng(seed).normal(size=SERVING_DIMS) * scale
    for i, x in edits:
        values[i] = x
    return vector_literal(list(values))


VECTORS = mostly(
    st.builds(seeded_vector, st.integers(0, 2**32 - 1), st.just(1.0), st.just([])),
    st.one_of(
        st.builds(
            seeded_vector,
            st.integers(0, 2**32 - 1),
            st.sampled_from([0.0, 1e-45, 1e-30, 1e-20, 1e30, 1e38]),
            st.lists(st.tuples(st.integers(0, SERVING_DIMS - 1), st.floats()), max_size=3),
        ),
        st.lists(st.floats(), max_size=8).map(vector_literal),
        st.sampled_from([vector_literal([1.0] * 383), vector_literal([1.0] * 16_001)]),
        st.none(),
    ),
    3,
)


@PROPERTY
@given(vector=VECTORS, limit=ints(1, 1000), threshold=mostly(st.floats(-1, 1), FLOATS, 3))
def test_search_episodic_memory_by_vector(api: Api, vector, limit, threshold) -> None:
    e = Expect("search_episodic_memory(vector)")
    dims = api.vector_in(e, vector)
    api.int4_in(e, limit)
    if not e.refused_by_type:
        e.rule(vector is None, "22023", "a NULL vector")
        e.rule(limit is None or not 1 <= limit <= 1000, "22023", "limit_results outside 1..1000")
        check_between(e, "threshold", threshold, -1, 1)
        e.rule(dims is not None and dims != SERVING_DIMS, "22023", "wrong dimensions")
        e.rule(
            vector is not None
            and dims == SERVING_DIMS
            and api.one("SELECT public.vector_norm(%b::public.vector) = 0", [vector]),
            "22023",
            "a zero vector",
        )
    rows = api.call(
        "SELECT s.episode_id, s.similarity_score FROM memory.search_episodic_memory(%b::public.vector, %b::integer, "
        "%b::double precision) AS s",
        [vector, limit, threshold],
        e,
    )
    if rows is not None:
        assert len(rows) <= limit
        for _, similarity in rows:
            assert not math.isnan(similarity), "a similarity that is NaN"
            assert -1 - 1e-9 <= similarity <= 1 + 1e-9
            assert not pg_gt(threshold, similarity), "a result below the threshold"


@PROPERTY
@given(
    query=QUERIES,
    k=ints(1, 1000),
    as_of=mostly(st.none(), TIMES, 3),
    include_invalid=st.one_of(st.booleans(), st.none()),
    mode=MODES,
    confidence_weight=SHARES,
    text_weight=SHARES,
)
def test_search_semantic_memory(
    api: Api, query, k, as_of, include_invalid, mode, confidence_weight, text_weight
) -> None:
    e = Expect("search_semantic_memory")
    api.texts_in(e, query, mode)
    api.int4_in(e, k)
    at = api.time_in(e, as_of)
    if not e.refused_by_type:
        e.rule(at is not None and math.isinf(at), "22008", "as_of infinite")
        e.rule(k is None or not 1 <= k <= 1000, "22023", "k outside 1..1000")
        e.rule(mode not in ("hybrid", "vector", "text"), "22023", "unknown mode")
        check_text(e, "query", query, 10_000)
        check_between(e, "confidence_weight", confidence_weight, 0, 1)
        check_between(e, "text_weight", text_weight, 0, 1)
    at_when = api.now() if at is None else at
    rows = api.call(
        "SELECT s.fact_id, s.score, extract(EPOCH FROM s.valid_from)::float8, extract(EPOCH FROM s.valid_to)::float8 "
        "FROM memory.search_semantic_memory(%b::text, %b::integer, %b::timestamptz, %b::boolean, %b::text, "
        "%b::double precision, %b::double precision) AS s",
        [query, k, as_of, include_invalid, mode, confidence_weight, text_weight],
        e,
    )
    if rows is not None:
        assert len(rows) <= k
        for _, score, valid_from, valid_to in rows:
            assert math.isfinite(score), f"score {score}"
            if include_invalid is not True and as_of is not None:
                assert valid_from <= at_when + 1e-6 and (
                    valid_to is None or valid_to > at_when - 1e-6
                )


# ------------------------------------------------------------------ working memory
CONTEXT_TYPES = label_like(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", 100)
PRIORITIES = mostly(
    st.sampled_from(["critical", "high", "normal", "low"]),
    st.one_of(st.sampled_from(["urgent", "HIGH", "", " low"]), TEXT, st.none()),
    4,
)


@PROPERTY
@given(
    context_type=CONTEXT_TYPES,
    content=mostly(json_text(JSON_VALUE), jsons(1_048_576), 2),
    ttl=mostly(
        st.timedeltas(timedelta(seconds=1), timedelta(days=366)), st.one_of(INTERVALS, MONTHLY), 2
    ),
    priority=PRIORITIES,
    key=mostly(
        st.none(),
        st.one_of(st.just("current"), TEXT, st.sampled_from(["", "k" * 200, "k" * 201])),
        2,
    ),
    idempotency_key=IDEM_KEYS,
)
def test_set_working_memory(
    api: Api, context_type, content, ttl, priority, key, idempotency_key
) -> None:
    e = Expect("set_working_memory")
    api.texts_in(e, context_type, priority, key, idempotency_key)
    doc = api.json_in(e, content)
    if not e.refused_by_type:
        e.rule(
            context_type is None
            or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", context_type),
            "22023",
            "bad context_type",
        )
        e.rule(content is None, "22004", "NULL content")
        e.rule(doc is not None and doc[1] > 1_048_576, "54000", "content over 1 MiB")
        span = interval_span(ttl)
        e.rule(
            span is not None and not 0 < span <= 366 * DAY,
            "22023",
            "ttl not positive or over 366 days",
        )
        if isinstance(ttl, Interval) and ttl.months and 0 < span <= 366 * DAY:
            # an item lives until now + ttl, and months have 28 to 31 days: it may end
            # before now or after 366 days although the interval compares (30-day
            # months) within them; which, depends on today's date
            ends = [(ttl.months * d + ttl.days) * DAY + ttl.micros for d in (28, 31)]
            inside = [0 < x <= 366 * DAY for x in ends]
            e.rule(
                not any(inside) and (ends[0] > 0) == (ends[1] > 0),
                "22023",
                "ttl ends before now or after 366 days",
            )
            if not all(inside):
                e.maybe("22023", "ttl in months that may end before now or after 366 days")
        e.rule(
            priority not in (None, "critical", "high", "normal", "low"), "22023", "unknown priority"
        )
        e.rule(key is not None and not 1 <= len(key) <= 200, "22023", "key not 1..200 characters")
        idempotency_key = idem_key(e, idempotency_key)
    t0 = api.one("SELECT clock_timestamp()")
    rows = api.call(
        "SELECT memory.set_working_memory(%b::text, %b::jsonb, %b::interval, %b::text, %b::text, %b::text)",
        [context_type, content, interval_param(ttl), priority, key, idempotency_key],
        e,
    )
    if rows is not None:
        check_stored_key(api, idempotency_key, "set_working_memory", rows[0][0])
        got = api.su.execute(
            "SELECT content = %b::jsonb, priority, key, expires_at > %s, expires_at <= clock_timestamp() + interval '366 days' "
            "FROM memory.working_memory WHERE working_id = %s",
            [content, t0, rows[0][0]],
        ).fetchone()
        assert got[0], "the content does not read back"
        assert got[1] == (priority or "normal") and got[2] == key
        assert got[3], (
            "an item that expired before it was written (the ttl was accepted as positive)"
        )
        assert got[4], "an item that lives longer than 366 days"


def test_my_quota(api: Api) -> None:
    """No arguments: the caller's own limits and counters; nothing stored changes."""
    before = api.fingerprint()
    rows = api.call("SELECT memory.my_quota()", [], Expect("my_quota"))
    assert rows is not None
    quota = rows[0][0]
    me = api.agent_id("Prop")
    assert quota["stored_bytes"] == api.one(
        "SELECT coalesce((SELECT sum(stored_bytes) FROM memory.agent_usage WHERE agent_id = %s), 0)",
        [me],
    )
    assert quota["max_stored_bytes"] > 0 and quota["max_queued_jobs"] > 0
    assert api.fingerprint() == before


@PROPERTY
@given(context_type=st.one_of(st.just("task"), CONTEXT_TYPES), clear=st.booleans())
def test_get_and_clear_working_memory(api: Api, context_type, clear) -> None:
    """Both take any text: only a NUL (the text type) is refused."""
    e = Expect("clear_working_memory" if clear else "get_working_memory")
    api.texts_in(e, context_type)
    me = api.agent_id("Prop")
    if clear:
        rows = api.call("SELECT memory.clear_working_memory(%b::text)", [context_type], e)
        if rows is not None:
            assert rows[0][0] >= 0
            left = api.one(
                "SELECT count(*) FROM memory.working_memory WHERE agent_id = %s AND (%b::text IS NULL OR context_type = %b::text)",
                [me, context_type, context_type],
            )
            assert left == 0, "items of the context type remain after clear_working_memory"
            api.agent("Prop").execute(
                "SELECT memory.set_working_memory('task', '{}', '1 hour', key => 'current')"
            )
    else:
        rows = api.call(
            # the function keeps items live at its own clock, which is never before the
            # statement's start: comparing with a later clock would race a short TTL
            "SELECT w.context_type, w.expires_at > statement_timestamp() "
            "FROM memory.get_working_memory(%b::text) AS w",
            [context_type],
            e,
        )
        if rows is not None:
            assert all(context_type is None or ct == context_type for ct, _ in rows)
            assert all(live for _, live in rows), "an expired item was returned"


# ------------------------------------------------------------------ core memory and identity
LABEL = r"[a-z][a-z0-9_]{0,62}"
LABELS = st.one_of(st.sampled_from(["persona", "guarded"]), label_like(LABEL, 63))


@st.composite
def block_args(draw: st.DrawFn) -> tuple[Any, ...]:
    char_limit = draw(ints(1, 100_000))
    near = (
        [char_limit - 1, char_limit, char_limit + 1]
        if isinstance(char_limit, int) and 0 < char_limit < 200_001
        else [5]
    )
    value = draw(
        mostly(
            st.one_of(TEXT, st.just("fixed")),
            st.one_of(st.sampled_from(near).map(lambda n: "v" * n), st.none()),
            3,
        )
    )
    description = draw(st.one_of(st.none(), TEXT, st.sampled_from(["", "d" * 2000, "d" * 2001])))
    read_only = draw(st.sampled_from([False, False, False, True, None]))
    return draw(LABELS), value, description, char_limit, read_only


@PROPERTY
@given(args=block_args())
def test_set_block(api: Api, args) -> None:
    label, value, description, char_limit, read_only = args
    e = Expect("set_block")
    api.texts_in(e, label, value, description)
    api.int4_in(e, char_limit)
    me = api.agent_id("Prop")
    old = None
    if not e.refused_by_type:
        e.rule(label is None, "22004", "NULL label")
        e.rule(label is not None and not re.fullmatch(LABEL, label), "22023", "bad label")
        e.rule(value is None, "22004", "NULL value")
        e.rule(
            char_limit is None or not 1 <= char_limit <= 100_000,
            "22023",
            "char_limit outside 1..100000",
        )
        e.rule(read_only is None, "22004", "NULL read_only")
        e.rule(
            value is not None and char_limit is not None and len(value) > char_limit,
            "22001",
            "value over char_limit",
        )
        e.rule(
            description is not None and len(description) > 2000, "22001", "description over 2000"
        )
        if not e.must:
            old = api.su.execute(
                "SELECT value, description, char_limit, read_only, version FROM memory.blocks WHERE agent_id = %s AND label = %s",
                [me, label],
            ).fetchone()
            changed = (
                old is not None
                and (
                    value,
                    description if description is not None else old[1],
                    char_limit,
                    read_only,
                )
                != old[:4]
            )
            e.rule(old is not None and old[3] and changed, "42501", "changing a read-only block")
    rows = api.call(
        "SELECT memory.set_block(%b::text, %b::text, %b::text, %b::integer, %b::boolean)",
        [label, value, description, char_limit, read_only],
        e,
    )
    if rows is not None:
        version = rows[0][0]
        expected = 1 if old is None else old[4] + (1 if changed else 0)
        assert version == expected, f"version {version}, expected {expected}"
        got = api.su.execute(
            "SELECT md5(b.value), b.char_limit, b.read_only, md5(h.value) FROM memory.blocks AS b "
            "JOIN memory.block_history AS h ON h.block_id = b.block_id AND h.version = b.version "
            "WHERE b.agent_id = %s AND b.label = %s",
            [me, label],
        ).fetchone()
        assert got == (md5(value), char_limit, read_only, md5(value)), (
            "the block or its history does not read back"
        )


@PROPERTY
@given(label=LABELS)
def test_block_history(api: Api, label) -> None:
    e = Expect("block_history")
    api.texts_in(e, label)
    me = api.agent_id("Prop")
    if not e.refused_by_type:
        e.rule(label is None, "22004", "NULL label")
        e.rule(label is not None and not re.fullmatch(LABEL, label), "22023", "bad label")
        e.rule(
            label is not None
            and re.fullmatch(LABEL, label) is not None
            and not api.one(
                "SELECT count(*) FROM memory.blocks WHERE agent_id = %s AND label = %s", [me, label]
            ),
            "P0002",
            "no such block",
        )
    rows = api.call(
        "SELECT h.version, md5(h.value) FROM memory.block_history(%b::text) AS h", [label], e
    )
    if rows is not None:
        current = api.su.execute(
            "SELECT version, md5(value) FROM memory.blocks WHERE agent_id = %s AND label = %s",
            [me, label],
        ).fetchone()
        assert [v for v, _ in rows] == list(range(1, current[0] + 1)), (
            "versions are not 1..n in order"
        )
        assert rows[-1] == current


KINDS = st.one_of(
    st.sampled_from(["manual", "auto", "pre_restore", "restored"]),
    label_like(r"[a-z][a-z0-9_]{0,49}", 50),
)


@PROPERTY
@given(kind=KINDS, state=jsons(1_048_576))
def test_create_checkpoint(api: Api, kind, state) -> None:
    e = Expect("create_checkpoint")
    api.texts_in(e, kind)
    doc = api.json_in(e, state)
    if not e.refused_by_type:
        e.rule(kind is None or state is None, "22004", "NULL kind or state")
        e.rule(
            kind is not None and not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", kind),
            "22023",
            "bad kind",
        )
        e.rule(kind in ("auto", "pre_restore", "restored"), "22023", "reserved kind")
        e.rule(doc is not None and doc[0] != "object", "22023", "state not an object")
        e.rule(doc is not None and doc[1] > 1_048_576, "54000", "state over 1 MB")
    rows = api.call("SELECT memory.create_checkpoint(%b::text, %b::jsonb)", [kind, state], e)
    if rows is not None:
        api.ids["checkpoints"].append(rows[0][0])
        got = api.su.execute(
            "SELECT kind, state = %b::jsonb, identity_hash = memory._identity_hash(memory._blocks_snapshot(agent_id)) "
            "FROM memory.checkpoints WHERE checkpoint_id = %s",
            [state, rows[0][0]],
        ).fetchone()
        assert got == (kind, True, True)


@PROPERTY
@given(which=ID_CHOICES, index=st.integers(0, 10**6))
def test_restore_checkpoint(api: Api, which, index) -> None:
    own = api.ids["checkpoints"]
    target = pick(api, which, lambda: own[index % len(own)], "other_checkpoint")
    e = Expect("restore_checkpoint")
    e.rule(which == "null", "22004", "NULL id")
    e.rule(unknown(which), "P0002", "not a checkpoint of this agent")
    # the result holds the checkpoint's state, which may be JSON too deep for Python's parser
    rows = api.call(
        "SELECT (r ->> 'continuity_score')::float8, r ->> 'identity_hash', r ->> 'checkpoint_identity_hash' "
        "FROM memory.restore_checkpoint(%b::uuid) AS r",
        [target],
        e,
    )
    if rows is not None:
        score, identity, checkpointed = rows[0]
        assert 0 <= score <= 1
        assert identity == api.one(
            "SELECT memory._identity_hash(memory._blocks_snapshot(%s))", [api.agent_id("Prop")]
        )
        assert identity != checkpointed or score == 1, "the same identity with a continuity below 1"


@PROPERTY
@given(
    focus=mostly(st.none(), texts(10_000), 1),
    emotional_vector=mostly(st.none(), jsons(65_536), 1),
    working_context=mostly(st.none(), jsons(1_048_576), 1),
)
def test_heartbeat(api: Api, focus, emotional_vector, working_context) -> None:
    e = Expect("heartbeat")
    api.texts_in(e, focus)
    emotions = api.json_in(e, emotional_vector)
    context = api.json_in(e, working_context)
    if not e.refused_by_type:
        e.rule(focus is not None and len(focus) > 10_000, "22001", "focus over 10000 characters")
        e.rule(
            emotions is not None and emotions[0] != "object",
            "22023",
            "emotional_vector not an object",
        )
        e.rule(context is not None and context[1] > 1_048_576, "54000", "working_context over 1 MB")
    rows = api.call(
        "SELECT memory.heartbeat(%b::text, %b::jsonb, %b::jsonb)",
        [focus, emotional_vector, working_context],
        e,
    )
    if rows is not None:
        got = api.su.execute(
            "SELECT md5(current_focus), %b::jsonb IS NULL OR emotional_vector = %b::jsonb, "
            "%b::jsonb IS NULL OR working_context = %b::jsonb, last_heartbeat >= now() - interval '1 minute' "
            "FROM memory.agent_state WHERE agent_id = %s",
            [
                emotional_vector,
                emotional_vector,
                working_context,
                working_context,
                api.agent_id("Prop"),
            ],
        ).fetchone()
        assert focus is None or got[0] == md5(focus)
        assert got[1:] == (True, True, True)


# ------------------------------------------------------------------ instances and decisions
INSTANCE_NAME = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}"
INSTANCE_TYPES = mostly(
    st.sampled_from(["primary", "worker", "specialized", "replica"]),
    st.one_of(st.sampled_from(["master", "Primary", ""]), TEXT, st.none()),
    4,
)


@PROPERTY
@given(
    name=st.one_of(st.just("prop-1"), label_like(INSTANCE_NAME, 100)),
    instance_type=INSTANCE_TYPES,
    location=mostly(st.none(), st.one_of(TEXT, st.sampled_from(["l" * 200, "l" * 201])), 2),
    capabilities=jsons(65_536),
)
def test_register_instance(api: Api, name, instance_type, location, capabilities) -> None:
    e = Expect("register_instance")
    api.texts_in(e, name, instance_type, location)
    caps = api.json_in(e, capabilities)
    if not e.refused_by_type:
        e.rule(
            name is None or instance_type is None or capabilities is None,
            "22004",
            "a NULL argument",
        )
        e.rule(name is not None and not re.fullmatch(INSTANCE_NAME, name), "22023", "bad name")
        e.rule(
            instance_type is not None
            and instance_type not in ("primary", "worker", "specialized", "replica"),
            "22023",
            "unknown instance_type",
        )
        e.rule(
            location is not None and len(location) > 200, "22001", "location over 200 characters"
        )
        e.rule(caps is not None and caps[0] != "object", "22023", "capabilities not an object")
        e.rule(caps is not None and caps[1] > 65_536, "54000", "capabilities over 64 kB")
    rows = api.call(
        "SELECT memory.register_instance(%b::text, %b::text, %b::text, %b::jsonb)",
        [name, instance_type, location, capabilities],
        e,
    )
    if rows is not None:
        got = api.su.execute(
            "SELECT name, instance_type, location, capabilities = %b::jsonb, status FROM memory.instances WHERE instance_id = %s",
            [capabilities, rows[0][0]],
        ).fetchone()
        assert got == (name, instance_type, location, True, "active")


@PROPERTY
@given(which=ID_CHOICES)
def test_instance_heartbeat(api: Api, which) -> None:
    target = pick(api, which, lambda: api.ids["instance"], "other_instance")
    e = Expect("instance_heartbeat")
    e.rule(which == "null", "22004", "NULL id")
    e.rule(unknown(which), "P0002", "not an instance of this agent")
    rows = api.call("SELECT memory.instance_heartbeat(%b::uuid)", [target], e)
    if rows is not None:
        assert api.one(
            "SELECT last_heartbeat >= now() - interval '1 minute' FROM memory.instances WHERE instance_id = %s",
            [target],
        )


@PROPERTY
@given(topic=texts(1000), proposal=jsons(1_048_576))
def test_propose_decision(api: Api, topic, proposal) -> None:
    e = Expect("propose_decision")
    api.texts_in(e, topic)
    doc = api.json_in(e, proposal)
    if not e.refused_by_type:
        e.rule(topic is None or proposal is None, "22004", "NULL topic or proposal")
        e.rule(topic is not None and blank(topic), "22023", "blank topic")
        e.rule(topic is not None and len(topic) > 1000, "22001", "topic over 1000 characters")
        e.rule(doc is not None and doc[1] > 1_048_576, "54000", "proposal over 1 MB")
    rows = api.call("SELECT memory.propose_decision(%b::text, %b::jsonb)", [topic, proposal], e)
    if rows is not None:
        got = api.su.execute(
            "SELECT md5(topic), proposal = %b::jsonb, status FROM memory.decisions WHERE decision_id = %s",
            [proposal, rows[0][0]],
        ).fetchone()
        assert got == (md5(topic), True, "open")


@PROPERTY
@given(
    decision=mostly(st.sampled_from(["open", "voted", "resolved", "other", "null"]), UUIDS, 3),
    instance=mostly(
        st.sampled_from(["live1", "live2", "live3", "stale", "other", "null"]), UUIDS, 3
    ),
    approve=mostly(st.booleans(), st.none(), 6),
)
def test_vote(api: Api, decision, instance, approve) -> None:
    voter, ids = api.agent("Voter"), api.ids
    api.su.execute(
        "UPDATE memory.instances SET last_heartbeat = now(), status = 'active' WHERE instance_id = ANY(%s)",
        [[ids["live1"], ids["live2"], ids["live3"]]],
    )
    decision_id = (
        None
        if decision in ("open", "voted")
        else pick(api, decision, lambda: None, "other_decision")
    )
    if decision in ("open", "voted"):
        decision_id = voter.execute(
            "SELECT memory.propose_decision('a question', '{}')"
        ).fetchone()[0]
        if decision == "voted":
            voter.execute("SELECT memory.vote(%s, %s, false)", [decision_id, ids["live1"]])
    instance_id = pick(api, instance, lambda: None, "other_instance")
    e = Expect("vote")
    e.rule(
        decision_id is None or instance_id is None or approve is None, "22004", "a NULL argument"
    )
    e.rule(unknown(decision) or unknown(instance), "P0002", "unknown decision or instance")
    e.rule(
        decision == "resolved" or instance == "stale",
        "55000",
        "resolved decision or stale instance",
    )
    e.rule(decision == "voted" and instance == "live1", "23505", "the instance voted already")
    rows = api.call(
        "SELECT memory.vote(%b::uuid, %b::uuid, %b::boolean)",
        [decision_id, instance_id, approve],
        e,
        who="Voter",
    )
    if rows is not None:
        got = api.su.execute(
            "SELECT status, approvals, rejections, electorate FROM memory.decisions WHERE decision_id = %s",
            [decision_id],
        ).fetchone()
        assert rows[0][0] == got[0]
        status, yes, no, electorate = got
        assert status == (
            "approved" if 2 * yes > electorate else "rejected" if 2 * no >= electorate else "open"
        )


# ------------------------------------------------------------------ context
@PROPERTY
@given(
    query=st.one_of(QUERIES, long_text(10_000)),
    token_budget=ints(1, 1_000_000),
    max_working_items=ints(0, 100),
    candidates=ints(1, 200),
)
def test_build_context(api: Api, query, token_budget, max_working_items, candidates) -> None:
    e = Expect("build_context")
    api.texts_in(e, query)
    for n in (token_budget, max_working_items, candidates):
        api.int4_in(e, n)
    if not e.refused_by_type:
        e.rule(
            token_budget is None or not 1 <= token_budget <= 1_000_000,
            "22023",
            "token_budget outside 1..1e6",
        )
        e.rule(
            max_working_items is None or not 0 <= max_working_items <= 100,
            "22023",
            "max_working_items",
        )
        e.rule(
            candidates is None or not 1 <= candidates <= 200, "22023", "candidates outside 1..200"
        )
        e.rule(not blank(query) and len(query) > 10_000, "22001", "query over 10,000 characters")
    rows = api.call(
        "SELECT c - 'working_memory', jsonb_array_length(c -> 'working_memory') "
        "FROM memory.build_context(%b::text, %b::integer, %b::integer, %b::integer) AS c",
        [query, token_budget, max_working_items, candidates],
        e,
    )
    if rows is not None:
        context, n_working = rows[0]
        items = context["blocks"] + context["episodes"] + context["facts"]
        assert n_working <= max_working_items
        assert context["token_estimate"] <= token_budget, "the context is over its budget"
        if items:
            assert context["token_estimate"] >= 24 + sum(i["tokens"] for i in items)
        assert all(
            i["tokens"] == 4 + math.ceil(len(i.get("content") or i.get("statement") or "") / 4)
            for i in context["episodes"] + context["facts"]
        ), "an item was cut or mis-counted"
        # no embed daemon serves the scratch database: an episode found means text only
        assert not context["episodes"] or context["search_degraded"], "search_degraded is not set"


@PROPERTY
@given(query=QUERIES, token_budget=ints(1, 1_000_000))
def test_build_context_text(api: Api, query, token_budget) -> None:
    e = Expect("build_context_text")
    api.texts_in(e, query)
    api.int4_in(e, token_budget)
    if not e.refused_by_type:
        e.rule(
            token_budget is None or not 1 <= token_budget <= 1_000_000,
            "22023",
            "token_budget outside 1..1e6",
        )
        e.rule(not blank(query) and len(query) > 10_000, "22001", "query over 10,000 characters")
    rows = api.call(
        "SELECT memory.build_context_text(%b::text, %b::integer)", [query, token_budget], e
    )
    if rows is not None:
        text = rows[0][0]
        assert isinstance(text, str)
        assert math.ceil(len(text) / 4) <= token_budget + 4 or not text, (
            "the rendered context is over its budget"
        )


# ------------------------------------------------------------------ embedding helpers
MODELS = mostly(
    st.sampled_from([None, "all-MiniLM-L6-v2"]), st.one_of(st.just("no-such-model"), TEXT), 3
)


@PROPERTY
@given(query=st.one_of(QUERIES, long_text(100_000)), model=MODELS)
def test_embed_query(api: Api, query, model) -> None:
    """No embed daemon serves the scratch database: a valid query gets 38000, as
    documented, and search falls back to full text."""
    e = Expect("embed_query")
    api.texts_in(e, query, model)
    if not e.refused_by_type:
        e.rule(blank(query), "22023", "blank query")
        e.rule(query is not None and len(query) > 100_000, "22001", "query over 100,000 characters")
        e.rule(model is not None and model != "all-MiniLM-L6-v2", "42704", "unknown model")
        e.rule(not blank(query) and len(query) <= 100_000, "38000", "no daemon answers")
    api.call("SELECT memory.embed_query(%b::text, %b::text)", [query, model], e)


CHUNK_TEXTS = st.one_of(
    st.text(UTF8, max_size=400),
    st.lists(
        st.sampled_from(
            ["word", "Palabra", "\n\n", ". ", "\n", " ", "\U0001d11e", "x" * 300, "3.14"]
        ),
        max_size=300,
    ).map("".join),
    st.sampled_from([2000, 40_000]).map(lambda n: ("A sentence of seven plain words. " * n)[:n]),
    st.none(),
)


@PROPERTY
@given(
    content=CHUNK_TEXTS,
    chunk_tokens=mostly(st.integers(8, 300), INTS, 3),
    overlap_tokens=mostly(
        st.integers(0, 40), st.one_of(INTS, st.sampled_from([2**30, 2**30 + 1, INT4[1]])), 3
    ),
)
def test_chunk_text(api: Api, content, chunk_tokens, overlap_tokens) -> None:
    e = Expect("chunk_text")
    api.texts_in(e, content)
    api.int4_in(e, chunk_tokens)
    api.int4_in(e, overlap_tokens)
    strict_null = None in (content, chunk_tokens, overlap_tokens)
    if not e.refused_by_type and not strict_null:
        e.rule(chunk_tokens < 8, "22023", "chunk_tokens under 8")
        e.rule(
            overlap_tokens < 0 or overlap_tokens * 2 > chunk_tokens,
            "22023",
            "overlap_tokens outside 0..chunk_tokens / 2",
        )
    if not e.must and not strict_null and chunk_tokens < 64 and len(content) > 5000:
        return  # thousands of chunks: a cost, not a check
    rows = api.call(
        "SELECT chunk_index, char_start, char_end, md5(chunk_text) FROM memory.chunk_text(%b::text, %b::integer, %b::integer)",
        [content, chunk_tokens, overlap_tokens],
        e,
    )
    if rows is not None and not strict_null and content:
        assert [r[0] for r in rows] == list(range(len(rows)))
        assert rows[0][1] == 0 and rows[-1][2] == len(content), "the chunks do not span the text"
        for (_, start, end, digest), nxt in zip(rows, [*rows[1:], None], strict=True):
            assert start < end and digest == md5(content[start:end]), (
                "a chunk's text is not its span"
            )
            assert nxt is None or nxt[1] <= end, "a gap between chunks"
    elif rows is not None and strict_null:
        assert rows == []


@PROPERTY
@given(which=st.one_of(st.sampled_from(["own", "other", "null", "forgotten"]), UUIDS), model=MODELS)
def test_episode_embedding(api: Api, which, model) -> None:
    target = pick(api, which, lambda: api.ids["episodes"][0], "other_episode")
    e = Expect("episode_embedding")
    api.texts_in(e, model)
    rows = api.call("SELECT memory.episode_embedding(%b::uuid, %b::text)", [target, model], e)
    if rows is not None and which != "own":
        assert rows[0][0] is None, "a vector of an episode that is not the agent's"


@PROPERTY
@given(content=st.one_of(TEXT, st.none(), long_text(500_000)))
def test_estimate_tokens(api: Api, content) -> None:
    e = Expect("estimate_tokens")
    api.texts_in(e, content)
    rows = api.call("SELECT memory.estimate_tokens(%b::text)", [content], e)
    if rows is not None:
        assert rows[0][0] == 4 + math.ceil(len(content or "") / 4)


SECTIONS = ("blocks", "working_memory", "facts", "episodes")
SECTION_ITEMS = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                k: JSON_LEAF
                for k in (
                    "label",
                    "value",
                    "content",
                    "statement",
                    "context_type",
                    "priority",
                    "occurred_at",
                )
            },
        ),
        JSON_VALUE,
    ),
    max_size=3,
)
CONTEXTS = st.one_of(
    json_text(
        st.fixed_dictionaries(
            {}, optional={k: mostly(SECTION_ITEMS, JSON_VALUE, 3) for k in SECTIONS}
        )
    ),
    json_text(JSON_VALUE),
    JSON_SPECIAL,
    st.none(),
)


@PROPERTY
@given(context=CONTEXTS)
def test_render_context(api: Api, context) -> None:
    e = Expect("render_context")
    doc = api.json_in(e, context)
    sections = {}
    if not e.refused_by_type and doc is not None and doc[0] == "object":
        # read by PostgreSQL: the JSON may be nested deeper than Python's parser goes
        sections = {
            k: (kind, n)
            for k, kind, n in api.su.execute(
                "SELECT k, jsonb_typeof(j -> k), coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(j -> k) = 'array' "
                "THEN j -> k END), 0) FROM (SELECT %b::jsonb AS j) AS x, unnest(%s::text[]) AS k WHERE j ? k",
                [context, list(SECTIONS)],
            ).fetchall()
        }
        e.rule(
            any(kind != "array" for kind, _ in sections.values()),
            "22023",
            "a section that is not an array",
        )
    rows = api.call("SELECT memory.render_context(%b::jsonb)", [context], e)
    if rows is not None:
        text = rows[0][0]
        if context is None:
            assert text == ""
        elif doc is not None and doc[0] == "object":
            for key, heading in zip(
                SECTIONS,
                ("Core memory", "Working memory", "Known facts", "Relevant episodes"),
                strict=True,
            ):
                assert (f"## {heading}\n" in text) == (sections.get(key, ("", 0))[1] > 0), (
                    f"section {key}"
                )


# ------------------------------------------------------------------ lifetime (issue 20)
YEARS_1000 = 12_000 * 30 * DAY  # interval '1000 years', in PostgreSQL's interval order


@PROPERTY
@given(session_id=mostly(st.sampled_from(["s1", "s9"]), texts(200), 2))
def test_forget_session(api: Api, session_id) -> None:
    e = Expect("forget_session")
    api.texts_in(e, session_id)
    if not e.refused_by_type:
        check_text(e, "session_id", session_id, 200)
    rows = api.call("SELECT memory.forget_session(%b::text)", [session_id], e)
    if rows is not None:
        assert rows[0][0] >= 0
        me = api.agent_id("Prop")
        assert (
            api.one(
                "SELECT count(*) FROM memory.episodes WHERE agent_id = %s AND session_id = %b::text",
                [me, session_id],
            )
            == 0
        ), "episodes of the session remain"


@PROPERTY
@given(name=mostly(st.sampled_from(["proj", "fresh-project", "other-project"]), texts(200), 2))
def test_forget_project(api: Api, name) -> None:
    me = api.agent("Prop")
    if name == "fresh-project":
        me.execute("SELECT memory.remember('in a fresh project', project => 'fresh-project')")
    e = Expect("forget_project")
    api.texts_in(e, name)
    if not e.refused_by_type:
        check_text(e, "name", name, 200)
        exists = api.one(
            "SELECT count(*) FROM memory.projects WHERE agent_id = %s AND name = %b::text",
            [api.agent_id("Prop"), name],
        )
        e.rule(not blank(name) and len(name) <= 200 and exists == 0, "P0002", "no such project")
    rows = api.call("SELECT memory.forget_project(%b::text)", [name], e)
    if rows is not None:
        assert rows[0][0] >= 0
        assert (
            api.one(
                "SELECT count(*) FROM memory.projects WHERE agent_id = %s AND name = %b::text",
                [api.agent_id("Prop"), name],
            )
            == 0
        )


POLICY_AGENTS = mostly(st.sampled_from([None, "Prop"]), st.one_of(st.just("Other"), TEXT), 3)


@PROPERTY
@given(
    max_age=INTERVALS,
    max_episodes=mostly(st.none(), ints(1, 10**6), 2),
    importance_floor=mostly(st.none(), UNIT_FLOATS, 2),
    protected_tags=TAGS,
    decay_half_life=INTERVALS,
    agent=POLICY_AGENTS,
)
def test_set_retention_policy(
    api: Api, max_age, max_episodes, importance_floor, protected_tags, decay_half_life, agent
) -> None:
    e = Expect("set_retention_policy")
    api.texts_in(e, protected_tags, agent)
    api.int4_in(e, max_episodes)
    floor = api.real_in(e, importance_floor)
    if not e.refused_by_type:
        e.rule(agent not in (None, "Prop"), "42501", "another agent's policy")
        for name, v in (("max_age", max_age), ("decay_half_life", decay_half_life)):
            span = interval_span(v)
            e.rule(span is not None and not 0 < span <= YEARS_1000, "22023", f"{name} not positive")
        e.rule(max_episodes is not None and max_episodes < 1, "22023", "max_episodes under 1")
        e.rule(floor is not None and not unit_ok(floor), "22003", "floor outside 0..1")
        check_tags(e, protected_tags)
    rows = api.call(
        "SELECT memory.set_retention_policy(%b::interval, %b::integer, %b::real, %b::text[], "
        "%b::interval, %b::text)",
        [
            interval_param(max_age),
            max_episodes,
            importance_floor,
            protected_tags,
            interval_param(decay_half_life),
            agent,
        ],
        e,
    )
    if rows is not None:
        got = api.one(
            "SELECT max_episodes FROM memory.retention_policies WHERE agent_id = %s",
            [api.agent_id("Prop")],
        )
        assert got == max_episodes, "the policy does not read back"


@PROPERTY
@given(agent=POLICY_AGENTS)
def test_clear_retention_policy(api: Api, agent) -> None:
    e = Expect("clear_retention_policy")
    api.texts_in(e, agent)
    if not e.refused_by_type:
        e.rule(agent not in (None, "Prop"), "42501", "another agent's policy")
    rows = api.call("SELECT memory.clear_retention_policy(%b::text)", [agent], e)
    if rows is not None:
        assert (
            api.one(
                "SELECT count(*) FROM memory.retention_policies WHERE agent_id = %s",
                [api.agent_id("Prop")],
            )
            == 0
        )


@PROPERTY
@given(importance=FLOATS, occurred_at=TIMES, access_count=INTS, decay_half_life=INTERVALS)
def test_effective_importance(api: Api, importance, occurred_at, access_count, decay_half_life):
    """Any values (NaN, infinities, negative counts and intervals): a value within 0..1."""
    e = Expect("effective_importance")
    imp = api.real_in(e, importance)
    api.time_in(e, occurred_at)
    api.int4_in(e, access_count)
    rows = api.call(
        "SELECT memory.effective_importance(%b::real, %b::timestamptz, %b::integer, %b::interval)",
        [importance, occurred_at, access_count, interval_param(decay_half_life)],
        e,
    )
    if rows is not None and imp is not None and not math.isnan(imp):
        value = rows[0][0]
        if value is not None:
            assert 0 <= value <= min(1.0, max(0.0, imp)) + 1e-6, (value, imp)


# ------------------------------------------------------------------ consolidation
def planted_merge(api: Api, who: str = "Prop") -> int:
    """Two copies of one text for agent who, merged by the job's batch: the consolidation id."""
    conn = api.agent(who)
    text = f"a copy to merge {uuid.uuid4()}"
    a = conn.execute("SELECT memory.remember(%s)", [text]).fetchone()[0]
    b = conn.execute("SELECT memory.remember(%s)", [text.upper() + "!"]).fetchone()[0]
    for ep in (a, b):
        api.su.execute(
            "INSERT INTO memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, char_end, "
            "content_sha256, embedding) SELECT e.agent_id, e.episode_id, m.model_id, 0, 0, "
            "char_length(e.content), e.content_sha256, "
            "(SELECT ('[' || string_agg(CASE WHEN i = 7 THEN '1' ELSE '0' END, ',') || ']')::public.vector "
            " FROM generate_series(1, %s) AS i) FROM memory.episodes AS e, memory.embedding_models AS m "
            "WHERE e.episode_id = %s AND m.is_serving",
            [SERVING_DIMS, ep],
        )
    api.su.execute(
        "SELECT memory._consolidation_batch(%s, 1000, 0.95, 0.6, '0')", [api.agent_id(who)]
    )
    return api.one(
        "SELECT consolidation_id FROM memory.consolidations WHERE merged_id IN (%s, %s) "
        "AND undone_at IS NULL",
        [a, b],
    )


BIGINT = (-(2**63), 2**63 - 1)


@PROPERTY
@given(which=st.one_of(st.sampled_from(["own", "own", "undone", "other", "null"]), INTS))
def test_undo_consolidation(api: Api, which) -> None:
    if which == "own":
        target = planted_merge(api)
    elif which == "undone":
        target = planted_merge(api)
        api.agent("Prop").execute("SELECT memory.undo_consolidation(%s)", [target])
    elif which == "other":
        target = planted_merge(api, "Other")
    elif which == "null":
        target = None
    else:
        target = which
    e = Expect("undo_consolidation")
    if target is not None and not BIGINT[0] <= target <= BIGINT[1]:
        e.type_refuses("22003", f"{target} is not a bigint")
    else:
        state = (
            api.one(
                "SELECT CASE WHEN undone_at IS NULL THEN 'live' ELSE 'undone' END "
                "FROM memory.consolidations WHERE consolidation_id = %s AND agent_id = %s",
                [target, api.agent_id("Prop")],
            )
            if target is not None
            else None
        )
        e.rule(target is None, "22023", "NULL id")
        e.rule(target is not None and state is None, "P0002", "no consolidation of this agent")
        e.rule(state == "undone", "55000", "already undone")
    rows = api.call("SELECT memory.undo_consolidation(%b::bigint)", [target], e)
    if rows is not None:
        restored = rows[0][0]
        assert (
            api.one("SELECT count(*) FROM memory.episodes WHERE episode_id = %s", [restored]) == 1
        )


@PROPERTY
@given(which=st.one_of(st.sampled_from(["own", "merged", "other", "forgotten", "null"]), UUIDS))
def test_resolve_episode(api: Api, which) -> None:
    if which == "merged":
        cid = planted_merge(api)
        target = api.one(
            "SELECT merged_id FROM memory.consolidations WHERE consolidation_id = %s", [cid]
        )
    else:
        target = pick(api, which, lambda: api.ids["update_target"], "other_episode")
    e = Expect("resolve_episode")
    e.rule(target is None, "22023", "NULL id")
    rows = api.call("SELECT memory.resolve_episode(%b::uuid)", [target], e)
    if rows is not None:
        got = rows[0][0]
        if which == "own":
            assert got == target
        elif which == "merged":
            assert got is not None and got != target
        else:
            assert got is None, "an id that is not the agent's resolves to something"


@PROPERTY
@given(k=ints(1, 1000), which=st.sampled_from(["list_retention_log", "list_consolidations"]))
def test_lifetime_lists(api: Api, k, which) -> None:
    """k within 1..1000 lists at most k of the caller's own rows; anything else (NULL too)
    is refused; nothing stored changes."""
    me = api.agent_id("Prop")
    if which == "list_consolidations" and not api.one(
        "SELECT count(*) FROM memory.consolidations WHERE agent_id = %s", [me]
    ):
        planted_merge(api)
    e = Expect(which)
    api.int4_in(e, k)
    if not e.refused_by_type:
        e.rule(k is None or not 1 <= k <= 1000, "22023", "k outside 1..1000")
    before = api.fingerprint()
    rows = api.call(f"SELECT count(*) FROM memory.{which}(%b::integer)", [k], e)
    if rows is not None:
        assert 0 <= rows[0][0] <= k
        if which == "list_consolidations":
            assert rows[0][0] >= 1, "the planted merge is not listed"
    assert api.fingerprint() == before


@PROPERTY
@given(a=st.one_of(TEXT, st.none()), b=st.one_of(TEXT, st.none()))
def test_text_similarity(api: Api, a, b) -> None:
    """Any texts: NULL for a NULL, else a value within 0..1, symmetric."""
    e = Expect("text_similarity")
    api.texts_in(e, a, b)
    rows = api.call("SELECT memory.text_similarity(%b::text, %b::text)", [a, b], e)
    if rows is not None:
        value = rows[0][0]
        if a is None or b is None:
            assert value is None
        else:
            assert 0 <= value <= 1
            back = api.call("SELECT memory.text_similarity(%b::text, %b::text)", [b, a], e)
            assert back is not None and back[0][0] == value


# ------------------------------------------------------------------ sharing (issue 20)
SCOPES = mostly(st.sampled_from(["project", "tag", "session"]), st.one_of(TEXT, st.none()), 4)
GRANTEES = mostly(
    st.sampled_from(["Other", "Voter"]),
    st.one_of(st.sampled_from(["Prop", "Nobody"]), texts(63)),
    3,
)
SCOPE_VALUES = mostly(
    st.sampled_from(["proj", "seed", "s1", "no such project"]),
    st.one_of(texts(200), long_text(200)),
    3,
)


def grants(api: Api, scope: str, with_agent: str, value: str) -> int:
    """Prop's grants of (scope, value) to the agent named with_agent, as stored."""
    return api.one(
        "SELECT count(*) FROM memory.shares AS s JOIN memory.agents AS g ON g.agent_id = s.grantee_agent_id "
        "WHERE s.agent_id = %s AND g.name = %b::text AND s.scope = %b::text AND s.scope_value = %b::text",
        [api.agent_id("Prop"), with_agent, scope, value],
    )


def share_rules(api: Api, e: Expect, scope: Any, with_agent: Any, value: Any) -> bool:
    """The rules of memory._share_target (project lookup aside); True when they all pass."""
    api.texts_in(e, scope, with_agent, value)
    if e.refused_by_type:
        return False
    e.rule(scope not in ("project", "tag", "session"), "22023", "unknown scope")
    check_text(e, "with_agent", with_agent, 63)
    check_text(e, "scope_value", value, 100 if scope == "tag" else 200)
    exists = (
        not blank(with_agent)
        and api.one("SELECT count(*) FROM memory.agents WHERE name = %b::text", [with_agent]) > 0
    )
    e.rule(not blank(with_agent) and not exists, "42704", "no agent of that name")
    e.rule(with_agent == "Prop", "22023", "sharing with oneself")
    return not e.must


@PROPERTY
@given(scope=SCOPES, with_agent=GRANTEES, value=SCOPE_VALUES)
def test_share(api: Api, scope, with_agent, value) -> None:
    e = Expect("share")
    if share_rules(api, e, scope, with_agent, value) and scope == "project":
        projects = api.one(
            "SELECT count(*) FROM memory.projects WHERE agent_id = %s AND name = %b::text",
            [api.agent_id("Prop"), value],
        )
        e.rule(projects == 0, "P0002", "no project of that name")
    rows = api.call(
        "SELECT memory.share(%b::text, %b::text, %b::text)", [scope, with_agent, value], e
    )
    if rows is not None:
        assert grants(api, scope, with_agent, value) == 1, "the grant is not stored"


@PROPERTY
@given(scope=SCOPES, with_agent=GRANTEES, value=SCOPE_VALUES)
def test_unshare(api: Api, scope, with_agent, value) -> None:
    e = Expect("unshare")
    share_rules(api, e, scope, with_agent, value)
    rows = api.call(
        "SELECT memory.unshare(%b::text, %b::text, %b::text)", [scope, with_agent, value], e
    )
    if rows is not None:
        assert grants(api, scope, with_agent, value) == 0, "the grant is still there"


def test_share_listings(api: Api) -> None:
    """No arguments: each agent lists its own grants, made and received."""
    made = api.call("SELECT with_agent FROM memory.my_shares()", [], Expect("my_shares"))
    got = api.call(
        "SELECT owner FROM memory.shared_with_me()", [], Expect("shared_with_me"), who="Other"
    )
    assert made is not None and got is not None
    assert {r[0] for r in got} <= {"Prop"}, "a grant to Other from an agent that made none"
