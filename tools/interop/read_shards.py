"""Read a winnow run's shards with the tools users use, and dump every row.

Usage: read_shards.py RUN_DIR OUT_JSON

For each of pyarrow, pandas, DuckDB and Hugging Face datasets, reads every
shard under RUN_DIR/shards and RUN_DIR/rejected and writes
{"reader": {"shards/part-00000.parquet": [row, ...], ...}, ...} with rows as
plain JSON values (messages as a list of {role, content} or null), so the Go
test can compare them value for value with the input.
"""

import json
import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import datasets  # noqa: E402
import duckdb  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def plain(v):
    """Turn numpy / pandas values into plain JSON values."""
    if v is None:
        return None
    if hasattr(v, "tolist"):  # numpy arrays and scalars
        v = v.tolist()
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def rows_pyarrow(path):
    return pq.read_table(path).to_pylist()


def rows_pandas(path):
    df = pd.read_parquet(path, engine="pyarrow")
    return [{c: plain(r[c]) for c in df.columns} for _, r in df.iterrows()]


def rows_duckdb(path):
    con = duckdb.connect()
    cur = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
    cols = [d[0] for d in cur.description]
    return [{c: plain(v) for c, v in zip(cols, row)} for row in cur.fetchall()]


def rows_datasets(path, cache):
    ds = datasets.Dataset.from_parquet(str(path), cache_dir=cache)
    return [plain(r) for r in ds]


def main():
    run_dir, out = Path(sys.argv[1]), sys.argv[2]
    shards = sorted(run_dir.glob("shards/*.parquet")) + sorted(run_dir.glob("rejected/*.parquet"))
    if not shards:
        sys.exit(f"no shards under {run_dir}")
    result = {"pyarrow": {}, "pandas": {}, "duckdb": {}, "datasets": {}}
    with tempfile.TemporaryDirectory() as cache:
        for s in shards:
            rel = str(s.relative_to(run_dir))
            result["pyarrow"][rel] = [plain(r) for r in rows_pyarrow(s)]
            result["pandas"][rel] = rows_pandas(s)
            result["duckdb"][rel] = rows_duckdb(s)
            result["datasets"][rel] = rows_datasets(s, cache)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
