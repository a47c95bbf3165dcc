# Podium's everyday commands. `make run` and `make test` are the two the README
# promises work on a fresh machine.

GO      ?= go
PKGS    ?= ./...
BENCH   ?= .
BENCHTIME ?= 1s
COUNT   ?= 1

.PHONY: run test bench build migrate lint depcheck fuzz clean

## run: embedded mode (SQLite + in-process boards) with the demo company, on :8080
run:
	$(GO) run ./cmd/podium serve --demo

## test: the whole suite, under the race detector, against real Postgres and Redis
test: lint
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## bench: every benchmark with allocations, then a table (benchstat); COUNT=6 for comparisons
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(COUNT) -timeout 30m $(PKGS) | tee bench.txt
	@echo
	$(GO) tool benchstat bench.txt

## build: the podium binary in ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/podium ./cmd/podium

## migrate: apply migrations to the configured database
migrate:
	$(GO) run ./cmd/podium migrate

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseAmount -fuzztime 30s ./game
	$(GO) test -run '^$$' -fuzz FuzzValidateDeal -fuzztime 30s ./game

clean:
	rm -rf bin bench.txt

## depcheck: prove game imports nothing but the standard library and decimal
depcheck:
	$(GO) test -count=1 -run TestDependencies ./game
