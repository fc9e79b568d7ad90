.PHONY: run test lint format demo bench

run:            ## install and start the dashboard on the embedded default database
	python -m pip install -q -r requirements.txt && python -m streamlit run app.py

test:           ## install and run the whole test suite
	python -m pip install -q -r requirements-dev.txt && python -m pytest

lint:
	ruff check . && ruff format --check .

format:
	ruff format . && ruff check --fix .

demo:
	python -m data_layer demo

bench:          ## the scale benchmark at small scale (see docs/benchmarks.md for large)
	python -m bench.run --scale small
