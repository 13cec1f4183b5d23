# kwok-run: `make test` is the test command of the README and of CI.

GO        ?= go
BIN       ?= bin/kwok-run
FUZZTIME  ?= 20s
STATICCHECK_VERSION := v0.8.2
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: build binaries chromium nerdctl run test lint fuzz bench bench-scale compare-releases examples clean

build:
	$(GO) build -o $(BIN) ./cmd/kwok-run

# The control plane's binaries, into the cache (outside the repository):
# built from source on first use, minutes on a cold machine, then instant.
binaries:
	$(GO) run ./cmd/kwok-run binaries

# The quickstart on the local backend: a real control plane, its steps, the
# outcome, and nothing left behind.
run: binaries
	$(GO) run ./cmd/kwok-run run examples/quickstart.hcl

# Chromium, for the test that loads report.html in a real browser: Debian's
# package when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (Debian package) for the report's browser test"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# nerdctl, for the nerdctl backend's integration test: Debian's containerd,
# runc, CNI plugins and iptables when missing, and nerdctl built into the
# cache (about a minute on a cold machine, then instant). No daemon is
# started: the test runs a containerd of its own and stops it.
nerdctl:
	GO=$(GO) .ci/install-nerdctl

# Unit and integration tests, with the race detector. Integration tests start
# real control planes from the cached binaries (the nerdctl backend's on a
# containerd of their own), and the browser test runs Chromium; none may be
# skipped here.
test: binaries chromium nerdctl
	KWOKRUN_REQUIRE_INTEGRATION=1 $(GO) test -race ./...

lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run ./cmd/kwok-run fmt -check examples

# Fuzz the scenario loader on top of its corpus (examples and testdata).
fuzz:
	$(GO) test ./scenario -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

# Benchmarks: one line of figures per case, and the same figures appended to
# bin/bench.json (one JSON object a line). Medians of five: validate + plan
# of every example; a local control plane up (to a Ready KWOK node), idle,
# and torn down, and the same on docker; the quickstart on local and on
# docker; pacing accuracy and kwok-run's CPU at asked rates; what measuring
# costs. Medians of three, the scale suite (docs/performance.md): 1,000,
# 5,000 and 10,000 nodes Ready, beside kwokctl on the same binaries; 10,000,
# 30,000 and 100,000 pods Running through the real scheduler; node churn.
# Then two Kubernetes releases compared on the quickstart. About three hours
# (plus 12 minutes for the older release's binaries, once).
BENCH_JSON := $(CURDIR)/bin/bench.json
bench: binaries
	@mkdir -p bin
	$(GO) test ./scenario -run '^$$' -bench . -benchmem -count 5 | tee bin/bench-scenario.txt
	KWOKRUN_REQUIRE_INTEGRATION=1 KWOKRUN_BENCH_JSON=$(BENCH_JSON) $(GO) test ./backends/local -run '^$$' -bench Up -benchtime 1x -count 5 -timeout 30m | tee bin/bench-local.txt
	KWOKRUN_REQUIRE_INTEGRATION=1 KWOKRUN_BENCH_JSON=$(BENCH_JSON) $(GO) test ./backends/containers -run '^$$' -bench Up -benchtime 1x -count 5 -timeout 30m | tee bin/bench-containers.txt
	KWOKRUN_REQUIRE_INTEGRATION=1 KWOKRUN_BENCH_JSON=$(BENCH_JSON) $(GO) test ./cmd/kwok-run/cli -run '^$$' -bench Quickstart -benchtime 1x -count 5 -timeout 60m | tee bin/bench-backends.txt
	KWOKRUN_REQUIRE_INTEGRATION=1 KWOKRUN_BENCH_JSON=$(BENCH_JSON) $(GO) test ./runner -run '^$$' -bench 'PaceAccuracy|CreateRate|MeasurementCPU|TrackedPodBytes' -benchtime 1x -count 5 -timeout 120m | tee bin/bench-runner.txt
	$(GO) test ./runner/observe -run '^$$' -bench PodRecordBytes -benchtime 1x -count 5 | tee bin/bench-observe.txt
	KWOKRUN_REQUIRE_INTEGRATION=1 KWOKRUN_BENCH_JSON=$(BENCH_JSON) $(GO) test ./runner/scalebench -run '^$$' -bench . -benchtime 1x -count 3 -timeout 300m | tee bin/bench-scale.txt
	$(GO) run $(BENCHSTAT) bin/bench-scenario.txt bin/bench-local.txt bin/bench-containers.txt bin/bench-backends.txt bin/bench-runner.txt bin/bench-observe.txt bin/bench-scale.txt
	$(MAKE) compare-releases

# The scale suite alone (part of bench): SCALE selects cases, e.g.
# make bench-scale SCALE='Nodes/5000'.
SCALE ?= .
bench-scale: binaries
	@mkdir -p bin
	KWOKRUN_REQUIRE_INTEGRATION=1 KWOKRUN_BENCH_JSON=$(BENCH_JSON) $(GO) test ./runner/scalebench -run '^$$' -bench '$(SCALE)' -benchtime 1x -count 3 -timeout 300m | tee bin/bench-scale.txt
	$(GO) run $(BENCHSTAT) bin/bench-scale.txt

# Two Kubernetes releases compared: the quickstart five times on each, then
# compare (its exit code is printed, not obeyed: a regression between
# releases is a finding, not a broken benchmark). The older release's
# binaries are built from source into the cache the first time.
compare-releases: build
	rm -rf bin/compare
	$(BIN) run --repeat 5 -var kubernetes=v1.36.3 --out bin/compare/v1.36.3 examples/quickstart.hcl
	$(BIN) run --repeat 5 -var kubernetes=v1.37.2 --out bin/compare/v1.37.2 examples/quickstart.hcl
	$(BIN) compare --markdown bin/compare/compare.md --html bin/compare/compare.html bin/compare/v1.36.3 bin/compare/v1.37.2; echo "kwok-run compare exited $$?"

# Every example validates; the quickstart, a churn and a failure scenario run
# for real, at small sizes; the quickstart again on docker, from images packed
# offline, with nothing of the run left in the engine; the churn again
# against an existing control plane (one without KWOK, from kwok-run up).
examples: build binaries
	$(BIN) validate examples/*.hcl
	$(BIN) run --out bin/results/quickstart examples/quickstart.hcl
	$(BIN) run --out bin/results/node-churn -var nodes=50 -var churn_percent=20 -var churn_for=1m examples/node-churn.hcl
	$(BIN) run --out bin/results/pressure-nodes examples/pressure-nodes.hcl
	$(BIN) run --out bin/results/services -var pods=200 -var services=20 -var groups=20 examples/services.hcl
	$(BIN) run --out bin/results/custom-resources -var widgets=200 examples/custom-resources.hcl
	$(BIN) run --out bin/results/failure-recovery -var nodes=20 examples/failure-recovery.hcl
	$(BIN) images build
	$(BIN) run --backend docker --out bin/results/quickstart-docker examples/quickstart.hcl
	@left=$$(docker ps --all --quiet --filter label=kwok-run.run; docker network ls --quiet --filter label=kwok-run.run; docker volume ls --quiet --filter label=kwok-run.run); \
	if [ -n "$$left" ]; then echo "left in docker after the run: $$left"; exit 1; fi
	XDG_STATE_HOME=$(CURDIR)/bin/state $(BIN) up --name existing examples/bare-control-plane.hcl > bin/existing.env
	. ./bin/existing.env && XDG_STATE_HOME=$(CURDIR)/bin/state $(BIN) run --kubeconfig "$$KUBECONFIG" --out bin/results/node-churn-existing -var nodes=50 -var churn_percent=20 -var churn_for=1m examples/node-churn.hcl; \
	status=$$?; XDG_STATE_HOME=$(CURDIR)/bin/state $(BIN) down existing; exit $$status

clean:
	rm -rf bin
