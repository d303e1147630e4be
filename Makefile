# commentgraph — make targets. `make test` is what CI runs (.ci/run).
GO ?= go
BENCHTIME ?= 3s

BASE ?= HEAD~1

.PHONY: run cluster test generate check-generated lint bench bench-baseline bench-passthrough graphiql-assets

## run: the gateway in demo mode on :8080 (in-process emulators, GraphiQL at /)
run:
	$(GO) run .

## cluster: three gateway instances on localhost sharing one Redis and the demo emulators (Ctrl-C stops them)
cluster:
	bash demo/cluster.sh

## test: everything CI checks — formatting, vet, generated code up to date, tests with -race
test: lint check-generated
	$(GO) test -race -count=1 -timeout 20m ./...

## generate: regenerate gqlgen code from graph/schema/*.graphqls
generate:
	$(GO) generate ./...

## check-generated: fail when generated code differs from what the schema generates
check-generated:
	@tmp=$$(mktemp -d) && cp graph/generated.go graph/model/models_gen.go $$tmp/ && \
	$(GO) generate ./... && \
	if ! cmp -s $$tmp/generated.go graph/generated.go || ! cmp -s $$tmp/models_gen.go graph/model/models_gen.go; then \
		echo "generated code is stale: run 'make generate' and commit the result"; rm -rf $$tmp; exit 1; fi; \
	rm -rf $$tmp

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: load and allocation benchmarks against the emulators (see README)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -timeout 30m ./bench/

## bench-passthrough: this tree's gateway against bench/passthrough, a process that makes the same
## upstream calls and does nothing else, in paired rounds at one worker (BENCHARGS adds -bench.* flags)
bench-passthrough:
	$(GO) test -run '^$$' -bench Comments50OverPassthrough -benchtime 1x -timeout 60m ./bench/ \
		-args -bench.passthrough -bench.concurrency=1 -bench.latencies=0ms,10ms -bench.configs=memory $(BENCHARGS)

## bench-baseline: this tree's gateway against BASE's (a commit; default HEAD~1), side by side in
## paired rounds at one worker (BenchmarkComments50AgainstBaseline; BENCHARGS adds -bench.* flags)
bench-baseline:
	@tmp=$$(mktemp -d) && git worktree add -q --detach $$tmp/src $(BASE) && \
	(cd $$tmp/src && $(GO) build -o $$tmp/gateway .); rc=$$?; git worktree remove --force $$tmp/src; \
	if [ $$rc -eq 0 ]; then $(GO) test -run '^$$' -bench Comments50AgainstBaseline -benchtime 1x -timeout 60m ./bench/ \
		-args -bench.baseline=$$tmp/gateway -bench.concurrency=1 -bench.latencies=0ms,10ms -bench.configs=memory $(BENCHARGS); rc=$$?; fi; \
	rm -rf $$tmp; exit $$rc

## graphiql-assets: refetch GraphiQL's and React's published files into graphiql/assets at the versions
## and sha512 integrity pinned in graphiql/pins.txt (needs npm and openssl; the result is committed)
graphiql-assets:
	bash graphiql/update-assets.sh
