"""A copy of the HTTP bench's city grown to a year's orders (not a test): prints what it made.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/grow_city.py \\
        [--source sandan_bench_http] [--db sandan_scale] [--copies 580] [--spare 1]
    DATABASE_URL=… REDIS_URL=… .venv/bin/python bench/profile_requests.py --db sandan_scale --runs 20

The load bench's demo city has 1,720 orders: a plan that reads the whole orders table costs
half a millisecond there and seconds in a city (a million orders a year). This copies the
source database (`bench/http_load.py --prepare` builds `sandan_bench_http`) to `--db` and
inserts `--copies` copies of every order (new ids, the same resident, branch, volunteer,
state and dates), except the orders of the `--spare` residents with the fewest orders, who
stay as they were (a resident with a few orders among a city's), then VACUUM ANALYZE, as a
database that has lived has its statistics. `bench/profile_requests.py --db` then times each
read on it, in-process and one at a time (docs/performance.md, "Fifth pass").

The copies multiply every state alike, open orders too: a desk's queue is 580 times the
demo's, far more than a city has open at once. Read the desk's figures as an upper bound.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="sandan_bench_http")
    parser.add_argument("--db", default="sandan_scale")
    parser.add_argument("--copies", type=int, default=580)
    parser.add_argument("--spare", type=int, default=1, help="residents (fewest orders first) left uncopied")
    args = parser.parse_args()

    import http_load

    server = http_load._server_url()
    t0 = time.monotonic()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(args.db), sql.Identifier(args.source))
        )
    with psycopg.connect(f"{server}/{args.db}", autocommit=True) as conn:
        spared = [
            row[0]
            for row in conn.execute(
                "SELECT resident_id FROM orders_order GROUP BY resident_id ORDER BY count(*), resident_id LIMIT %s",
                [args.spare],
            )
        ]
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'orders_order' AND column_name <> 'id' ORDER BY ordinal_position"
            )
        ]
        names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        conn.execute(
            sql.SQL(
                "INSERT INTO orders_order ({names}) SELECT {names} FROM orders_order, generate_series(1, %s) "
                "WHERE NOT (resident_id = ANY(%s))"
            ).format(names=names),
            [args.copies, spared],
        )
        conn.execute("VACUUM ANALYZE")
        (total,) = conn.execute("SELECT count(*) FROM orders_order").fetchone() or (0,)
        spared_counts = conn.execute(
            "SELECT resident_id, count(*) FROM orders_order WHERE resident_id = ANY(%s) GROUP BY 1", [spared]
        ).fetchall()
    print(
        f"{args.db}: {total:,} orders in {time.monotonic() - t0:.0f} s; left as they were: "
        + ", ".join(f"resident {uid} ({n} orders)" for uid, n in spared_counts)
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    main()
