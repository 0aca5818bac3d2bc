.PHONY: run test bench lint

run:   ## install and run web + worker on the embedded default, with the demo practice
	bash scripts/run.sh

test:  ## install what tests need, start PostgreSQL and Redis, run the whole suite
	bash scripts/test.sh

bench: ## every benchmark (needs what `make test` installs)
	for b in voice_webhook routing speed_to_lead transcription reminders compliance; do .venv/bin/python bench/$$b.py || exit 1; done

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
