.PHONY: run test test-fast lint format demo bench

run:            ## install and start the dashboard on the embedded default database
	python -m pip install -q -r requirements.txt && python -m streamlit run app.py

test:           ## install and run the whole test suite, one worker per core
	python -m pip install -q -r requirements-dev.txt && python -m pytest -n auto

test-fast:      ## the fast subset: no browser, no PostgreSQL, nothing slow (under a minute)
	python -m pytest -n auto -m "not browser and not postgres and not slow"

lint:
	ruff check . && ruff format --check .

format:
	ruff format . && ruff check --fix .

demo:
	python -m data_layer demo

bench:          ## the scale benchmark at small scale (see docs/benchmarks.md for large)
	python -m bench.run --scale small
