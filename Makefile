# winnow: the two commands a fresh machine needs are `make demo` and `make test`.
GO        ?= go
BIN       := bin/winnow
FUZZTIME  ?= 10s

.PHONY: build demo test test-short fuzz bench vet clean check-report

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/winnow

# Run the demo recipe on fixtures/ and write ./out/.
demo: build
	./$(BIN) run -c fixtures/demo.yaml -o out/
	./$(BIN) cat out/shards/part-00000.parquet --limit 3 --columns id,lang,lang_mix,word_count,text --format table --width 40

# Everything CI runs: vet, gofmt, the race-checked tests, and a short fuzz of every parser.
test: vet
	$(GO) test -race -count=1 -timeout 30m ./...
	# Accuracy tests over thousands of labelled sentences, and the fault tests that
	# kill the (plain) winnow binary, skip under -race: run them plain.
	$(GO) test -count=1 -timeout 30m -run 'Accuracy|TestKillAndRerun|TestDistributedKillOneTask' ./stages/ ./dedup/ ./internal/cli/
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

# Load out/report.html (from make demo) in headless Chromium, offline; CI runs it.
check-report: demo
	tools/check_report.sh out

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }

# Minimizing a new input is capped by count: a minimization still running
# when -fuzztime ends failed a CI run with "context deadline exceeded".
fuzz:
	@for p in ./stages/ ./dedup/; do \
		for t in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
			echo "fuzz $$p $$t for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=100x $$p || exit 1; \
		done; \
	done

# Read -> write throughput (MB/s per core; see BENCHMARKS.md).
bench:
	$(GO) test -run='^$$' -bench=. -benchtime=10x -count=3 ./internal/cli/ ./pipeline/
	$(GO) test -run='^$$' -bench=. -benchtime=20x -cpu=1 ./stages/
	$(GO) test -run='^$$' -bench=. -cpu=1 ./dedup/
	tools/bench/rss.sh
	$(MAKE) build && ./$(BIN) bench

clean:
	rm -rf bin out
