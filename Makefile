# The project's commands. Each target is one or two commands; the scripts say how.
.PHONY: run test lint bench deploy-check

# The local stack (private PostgreSQL + tansu under .local/) and the four services.
run:
	scripts/dev

# Every test, against a throwaway stack on free ports.
test:
	scripts/test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

deploy-check:
	deploy/check
