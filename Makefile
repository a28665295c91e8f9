# The project's commands. Each target is one or two commands; the scripts say how.
.PHONY: run test lint bench bench-scale deploy-check fuzz faults

# The whole platform: local stack under .local/, the six services, demo data (haicheng dev).
run:
	cargo build --workspace --bins
	target/debug/haicheng dev

# Every test, against a throwaway stack on free ports.
test:
	scripts/test

# Every benchmark row, release builds, on a throwaway stack; prints the table (BENCHMARKS.md).
# ARGS passes options: `make bench ARGS=--scale` is `make bench-scale`.
bench:
	cargo build --release -p census -p classification -p land-parcel -p trade-fair -p support -p inspection -p haicheng-bench
	scripts/with-stack target/release/haicheng-bench $(ARGS)

# How each cost grows: the rows that grow with the firms at 10,000, 100,000 and 1,000,000
# firms (an hour or more); `make bench-scale ARGS="--sizes 10000,100000"` for fewer.
bench-scale:
	$(MAKE) bench ARGS="--scale $(ARGS)"

# The whole chain under every staged fault at 10,000 census events each (make test runs them
# at 400); each scenario's verdict line lands in target/faults/ (RELIABILITY.md).
faults:
	HAICHENG_FAULT_EVENTS=10000 HAICHENG_FAULT_REPORT_DIR=$(CURDIR)/target/faults scripts/test -p system-tests -E 'binary(faults)' --no-capture
	cat target/faults/*.txt

# Every fuzz target for 1,000,000 inputs (libFuzzer, nightly), bounded in time; one line per
# target: inputs, findings (RELIABILITY.md).
fuzz:
	scripts/fuzz

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --lib --bins -- -D warnings -W clippy::too_many_lines
	scripts/sqlx-prepare --check

deploy-check:
	deploy/check
