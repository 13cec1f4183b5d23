# kwok-run: `make test` is the test command of the README and of CI.

GO        ?= go
BIN       ?= bin/kwok-run
FUZZTIME  ?= 20s
STATICCHECK_VERSION := v0.8.2

.PHONY: build test lint fuzz bench examples clean

build:
	$(GO) build -o $(BIN) ./cmd/kwok-run

# Unit and integration tests, with the race detector.
test:
	$(GO) test -race ./...

lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run ./cmd/kwok-run fmt -check examples

# Fuzz the scenario loader on top of its corpus (examples and testdata).
fuzz:
	$(GO) test ./scenario -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

# Benchmarks: validate + plan of every example.
bench:
	$(GO) test ./scenario -run '^$$' -bench . -benchmem -count 5

examples:
	$(GO) run ./cmd/kwok-run validate examples/*.hcl

clean:
	rm -rf bin
