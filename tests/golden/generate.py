"""Produce tests/golden/expected.json from cases.json with dlt 1.x.

Run once in a throwaway venv (dlt is not a dependency of the project):

    python3 -m venv /tmp/dltvenv && /tmp/dltvenv/bin/pip install "dlt[duckdb]>=1,<2"
    cd tests/golden && /tmp/dltvenv/bin/python generate.py

For every case it runs a dlt pipeline per `run` (a resource yielding the
run's pages) into a fresh DuckDB file and records, per table of the dataset:
columns (name, DuckDB type) in order, the row count, and the rows' values
(every column except the random `_dlt_*` ids), each row as a list of text
values, rows sorted.
"""

import json
import os
import shutil
import tempfile

import dlt
import duckdb

RANDOM_COLUMNS = {"_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_load_id"}
DLT_STATE_TABLES = {"_dlt_pipeline_state", "_dlt_version"}


def dump(db_path, dataset):
    con = duckdb.connect(db_path)
    con.execute("SET TimeZone='UTC'")
    tables = {}
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [dataset]
    ).fetchall()]
    for t in names:
        if t in DLT_STATE_TABLES:
            continue
        cols = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [dataset, t]
        ).fetchall()
        count = con.execute(f'SELECT count(*) FROM "{dataset}"."{t}"').fetchone()[0]
        entry = {"columns": [[c, ty] for c, ty in cols], "rows": count}
        if not t.startswith("_dlt"):
            value_cols = [c for c, _ in cols if c not in RANDOM_COLUMNS]
            select = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in value_cols)
            rows = con.execute(f'SELECT {select} FROM "{dataset}"."{t}"').fetchall()
            entry["value_columns"] = value_cols
            entry["values"] = sorted([list(r) for r in rows], key=lambda r: json.dumps(r))
        tables[t] = entry
    con.close()
    return tables


def run_case(case, workdir):
    db_path = os.path.join(workdir, case["name"] + ".duckdb")
    pipe = dlt.pipeline(
        pipeline_name="golden_" + case["name"],
        destination=dlt.destinations.duckdb(db_path),
        dataset_name="golden",
        pipelines_dir=os.path.join(workdir, "pipelines"),
    )
    for pages in case["runs"]:
        def make_gen(pages):
            def gen():
                for page in pages:
                    yield page

            return gen

        gen = make_gen(pages)

        kwargs = {"name": case["resource"], "write_disposition": case["write_disposition"]}
        if "primary_key" in case:
            kwargs["primary_key"] = case["primary_key"]
        if "max_table_nesting" in case:
            kwargs["max_table_nesting"] = case["max_table_nesting"]
        pipe.run(dlt.resource(gen, **kwargs)())
    return dump(db_path, "golden")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "cases.json")) as f:
        cases = json.load(f)["cases"]
    out = {"dlt_version": dlt.__version__, "duckdb_version": duckdb.__version__, "cases": {}}
    workdir = tempfile.mkdtemp(prefix="golden-")
    try:
        for case in cases:
            out["cases"][case["name"]] = run_case(case, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    with open(os.path.join(here, "expected.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
