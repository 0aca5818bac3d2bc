.PHONY: run test bench lint

run:   ## install and run web + worker on the embedded default, with the demo practice
	bash scripts/run.sh

test:  ## install what tests need, start PostgreSQL and Redis, run the whole suite
	bash scripts/test.sh

bench: ## the benchmarks (need what `make test` installs)
	.venv/bin/python bench/voice_webhook.py

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
