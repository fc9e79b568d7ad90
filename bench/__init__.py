"""The scale benchmark: generate a dataset, time the dashboard's queries, compare with a SQLite baseline.

python -m bench.run --scale small            # quick, about 25 s
python -m bench.run --scale large --docs     # the real thing; rewrites docs/benchmarks.md
"""
