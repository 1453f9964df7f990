# make test: install the real peers the tests talk to (when root and missing),
# then vet and run every test with the race detector. .ci/run calls this.
# TESTFLAGS adds go test flags (e.g. TESTFLAGS=-count=1).
GO ?= go

# Debian packages whose programs the tests start for real.
PEERS := runit:runsvdir openssh-server:sshd openssh-client:ssh-keygen sudo:sudo keepalived:keepalived iproute2:ip procps:ps dpkg:dpkg-deb rpm:rpmbuild rsync:rsync lvm2:lvm iputils-ping:ping util-linux:unshare

.PHONY: test peers vet bench bench-ansible fuzz

# internal/gotest runs go test -json, one line per package, and ends with
# how many tests ran, passed, failed and were skipped and why; under
# CHEFHA_REQUIRE_PEERS a skip that is not optional fails. The lab's tests
# (mostly waits on real programs) and upgrade's (the most CPU under -race)
# run beside the others from the start: last in go test's order, upgrade
# began after three minutes and ended the run (4m31 → 4m08 here).
# A race-enabled test binary sleeps 1 s at exit (GORACE atexit_sleep_ms)
# so that reports from goroutines still running get out; every test
# stops its goroutines first, and thirty binaries paid 15 s for nothing.
test: peers vet
	GORACE=atexit_sleep_ms=0 $(GO) run ./internal/gotest -goflags '-race $(TESTFLAGS)' -first ./lab -first ./upgrade ./...

vet:
	$(GO) vet ./...

peers:
	@missing=""; \
	for p in $(PEERS); do \
		pkg=$${p%%:*}; bin=$${p##*:}; \
		command -v $$bin >/dev/null 2>&1 || [ -x /usr/sbin/$$bin ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing test peers:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "note: missing$$missing; the tests that need them will skip (run make test as root on Debian to install)"; \
		fi; \
	fi

# Every package's benchmarks but the Ansible head-to-head (bench-ansible).
bench:
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v '/bench$$')

# chefha against Ansible over one lab cluster (root): see bench/README.md.
# Ansible is a peer of this target only: make test never starts it.
bench-ansible:
	$(MAKE) peers PEERS="$(PEERS) ansible:ansible"
	@date -u; nproc; uptime
	$(GO) test ./bench -run '^$$' -bench . -benchtime 5x -timeout 60m

FUZZ := upgrade:FuzzLoadFacts upgrade:FuzzDecodeRecord cluster:FuzzParseTreeListing cluster:FuzzRedactSecrets cluster:FuzzParseHosts \
	cluster:FuzzKnownHostsLine cluster:FuzzParseTopology internal/termsafe:FuzzString internal/pkgfile:FuzzReadDeb internal/pkgfile:FuzzReadRPM \
	runit:FuzzParsePS runit:FuzzParseStatus runit:FuzzParseStat migration:FuzzParse \
	keepalived:FuzzParseClusterLog keepalived:FuzzParseHAStatus keepalived:FuzzParseStatus \
	drbd:FuzzParseProc lvm:FuzzParseReport lvm:FuzzParseFindmnt clustertest:FuzzSplit clustertest:FuzzLVMCommand internal/ecmodel:FuzzHAStatus \
	lab/internal/hostnet:FuzzParseAddrs lab/internal/hostnet:FuzzParseRoutes internal/wrap:FuzzHanging \
	keepalived:FuzzLogFollower keepalived:FuzzParsePoll

fuzz:
	@for t in $(FUZZ); do \
		echo "fuzz $$t"; \
		$(GO) test ./$${t%%:*} -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime 30s || exit 1; \
	done
