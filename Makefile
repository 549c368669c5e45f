# redlock: build, test, demo and install. `make test` is what CI runs (.ci/run).
SWIFT      ?= swift
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR      = $(DESTDIR)$(PREFIX)/bin
MANDIR      = $(DESTDIR)$(PREFIX)/share/man/man1
# Where bash-completion, zsh and fish look for completions under PREFIX.
BASHCOMPDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
# Debian packages the build and the test suite need (zsh and fish: the completion tests;
# openssl: the TLS tests make their certificates with it; lintian: make deb checks the
# package with it).
APT_PACKAGES = pkg-config libhiredis-dev libssl-dev redis-server redis-tools
TEST_PACKAGES = zsh fish openssl lintian
# The release binary is one static executable (Swift runtime, libstdc++, hiredis and glibc
# linked in): a cron tick then pays no dynamic loading (~2 ms with the shared libraries).
# Metadata of generic types is reached through accessor functions, not mangled names the
# runtime would demangle on first use: 0.13 to 0.18 ms less a run on three instances (4-5%,
# about 0.1 in the start-up ratio to flock; measured again 2026-12-01). See README "Performance".
# redlock uses no Swift concurrency, so the release build does not import _Concurrency
# implicitly: the Concurrency runtime and libdispatch then stay out of the binary, and so do
# their start-up initializers (17 page faults and 8 system calls of every run; 1 MB).
RELEASE_FLAGS = -c release --static-swift-stdlib -Xswiftc -static-executable \
  -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors \
  -Xswiftc -Xfrontend -Xswiftc -disable-implicit-concurrency-module-import
# Where `swift build $(RELEASE_FLAGS)` puts the binaries (a shell expression for recipes).
RELEASE_DIR = $$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)
# `make test` installs here what `make install` installs, and tests that tree's binary.
STAGE = $(CURDIR)/.build/staged
# SwiftPM finds hiredis through pkg-config, and warns on every build that it does not pass
# on hiredis.pc's -D_FILE_OFFSET_BITS=64 (see Package.swift). `make deps` writes a copy of
# the system's hiredis.pc without that flag here, first in PKG_CONFIG_PATH.
PC_DIR = $(CURDIR)/.build/pkgconfig
export PKG_CONFIG_PATH := $(PC_DIR)$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))

.PHONY: all deps test-deps apt-install build debug test demo bench install uninstall deb clean

all: build

# Installs whatever of APT_PACKAGES is missing (as root, or through sudo).
deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"
	@mkdir -p $(PC_DIR) && PKG_CONFIG_PATH= pkg-config --variable=pcfiledir hiredis >/dev/null && \
	  sed 's/ *-D_FILE_OFFSET_BITS=64//' "$$(PKG_CONFIG_PATH= pkg-config --variable=pcfiledir hiredis)/hiredis.pc" > $(PC_DIR)/hiredis.pc.new && \
	  mv $(PC_DIR)/hiredis.pc.new $(PC_DIR)/hiredis.pc

test-deps: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_PACKAGES)"

apt-install:
	@missing=""; \
	for package in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

# A static release binary: at run time it needs no shared library at all, except libssl.so.3
# for rediss:// (loaded on first use). The linker warns that getpwuid_r, getaddrinfo and
# dlopen need glibc's own NSS and loader files at run time: files and DNS lookups are
# built in; other NSS sources (LDAP, sssd) load modules that must match this glibc.
build: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product redlock
	@echo "built $(RELEASE_DIR)/redlock"

debug: deps
	$(SWIFT) build

# The whole suite, once: the unit tests, and the integration tests (against redis-server
# processes the suite starts itself on free loopback ports) run on the binary `make install`
# ships, staged under $(STAGE). InstallTests reuses that release build
# (REDLOCK_TEST_RELEASE_DIR) instead of making a second one.
test: test-deps
	@$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=/usr
	REDLOCK_BIN=$(STAGE)/usr/bin/redlock REDLOCK_TEST_RELEASE_DIR="$(RELEASE_DIR)" \
	  $(SWIFT) test --disable-xctest

# Two `redlock run` jobs on one key at once, on three throwaway local instances (or on
# REDLOCK_URLS when set): the output shows them take turns.
demo: build
	@REDLOCK="$(RELEASE_DIR)/redlock" bash -c "$$DEMO_SCRIPT"

# Start-up, hand-off, round trips and Redis load, each against flock in the same run, on
# the binary `make install` ships (stripped, staged as `make test` stages it): the unstripped
# build output starts 2-3% slower.
bench: build
	@$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=/usr
	$(SWIFT) build $(RELEASE_FLAGS) --product redlock-bench
	REDLOCK_BIN=$(STAGE)/usr/bin/redlock "$(RELEASE_DIR)/redlock-bench"

# The binary (stripped: 9 MB instead of 15; no run reads the symbol table), the
# man page and the bash, zsh and fish completions, under DESTDIR/PREFIX.
# The binary is written in one 16 MB write, then renamed into place: where the file system
# caches files in large folios (XFS; ext4 from Linux 6.16; this machine's ext4 on 6.18) the
# page cache then holds it in 2 MB folios, which every run maps with one page-table entry
# each instead of 4 KB pages (234 -> 167 page faults a run, 0.2-0.25 ms of a 2.6 ms
# `run KEY -- true`; see README "Performance"). `install -s` writes the file in small
# pieces. It lasts while the page cache keeps the file: read back from disk (after a
# reboot) it is cached in small pieces again. The rename also replaces a running binary
# without ETXTBSY.
install: build
	install -d $(BINDIR) $(MANDIR) $(BASHCOMPDIR) $(ZSHCOMPDIR) $(FISHCOMPDIR)
	strip -o $(BINDIR)/.redlock.stripped "$(RELEASE_DIR)/redlock" && \
	  dd if=$(BINDIR)/.redlock.stripped of=$(BINDIR)/.redlock.new bs=16M status=none && \
	  chmod 755 $(BINDIR)/.redlock.new && mv -f $(BINDIR)/.redlock.new $(BINDIR)/redlock; \
	  status=$$?; rm -f $(BINDIR)/.redlock.stripped $(BINDIR)/.redlock.new; exit $$status
	install -m 644 man/redlock.1 $(MANDIR)/redlock.1
	install -m 644 completions/redlock.bash $(BASHCOMPDIR)/redlock
	install -m 644 completions/_redlock $(ZSHCOMPDIR)/_redlock
	install -m 644 completions/redlock.fish $(FISHCOMPDIR)/redlock.fish

uninstall:
	rm -f $(BINDIR)/redlock $(MANDIR)/redlock.1 $(BASHCOMPDIR)/redlock \
	  $(ZSHCOMPDIR)/_redlock $(FISHCOMPDIR)/redlock.fish

# A Debian package of the release binary, the man page and the completions:
# redlock_VERSION_ARCH.deb in the top folder. VERSION is the one `redlock --version` prints
# (Sources/redlock/Version.swift). The binary is static, so the package depends on nothing
# (not even libc6); libssl3 is only recommended, for rediss:// (loaded on first use).
# `make deb` then `apt install ./redlock_*.deb`; checked by `lintian` where installed.
VERSION    := $(shell sed -n 's/.*static let number = "\(.*\)".*/\1/p' Sources/redlock/Version.swift)
DEB_ARCH   := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_ROOT    = .build/deb/redlock_$(VERSION)_$(DEB_ARCH)
# Where the .deb goes (the top folder by default).
DEB_OUT    ?= .
DEB_FILE    = $(DEB_OUT)/redlock_$(VERSION)_$(DEB_ARCH).deb

deb: build
	rm -rf $(DEB_ROOT) $(DEB_FILE)
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(DEB_ROOT) PREFIX=/usr \
	  ZSHCOMPDIR=$(CURDIR)/$(DEB_ROOT)/usr/share/zsh/vendor-completions
	strip --remove-section=.comment --remove-section=.note --strip-unneeded $(DEB_ROOT)/usr/bin/redlock
	gzip -9n $(DEB_ROOT)/usr/share/man/man1/redlock.1
	install -d $(DEB_ROOT)/DEBIAN $(DEB_ROOT)/usr/share/doc/redlock $(DEB_ROOT)/usr/share/lintian/overrides
	printf '%s\n' "$$DEB_LINTIAN_OVERRIDES" > $(DEB_ROOT)/usr/share/lintian/overrides/redlock
	printf '%s\n' "$$DEB_COPYRIGHT" > $(DEB_ROOT)/usr/share/doc/redlock/copyright
	printf 'redlock ($(VERSION)) unstable; urgency=medium\n\n  * Release $(VERSION).\n\n -- $(DEB_MAINTAINER)  %s\n' \
	  "$$(date -R -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)})" \
	  | gzip -9n > $(DEB_ROOT)/usr/share/doc/redlock/changelog.gz
	chmod -R u=rwX,go=rX $(DEB_ROOT)
	printf '%s\n' "Package: redlock" "Version: $(VERSION)" "Architecture: $(DEB_ARCH)" \
	  "Maintainer: $(DEB_MAINTAINER)" "Installed-Size: $$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)" \
	  "Recommends: libssl3" "Section: utils" "Priority: optional" "$$DEB_DESCRIPTION" \
	  > $(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB_FILE)
	@if command -v lintian >/dev/null; then lintian --allow-root $(DEB_FILE); \
	  else echo "make: lintian not installed: the package was not checked"; fi
	@echo "built $(DEB_FILE)"

clean:
	rm -rf .build redlock_*.deb

define DEMO_SCRIPT
set -eu
dir=$$(mktemp -d)
pids=""
cleanup() { for pid in $$pids; do kill "$$pid" 2>/dev/null || true; done; rm -rf "$$dir"; }
trap cleanup EXIT
# Sets $$port to a fresh instance's port (no subshell, so $$pids keeps the pid for cleanup).
start_instance() {
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$$(shuf -i 20000-60000 -n 1)
    redis-cli -p "$$port" ping >/dev/null 2>&1 && continue
    redis-server --port "$$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$$dir" \
      --logfile "$$dir/redis-$$port.log" >/dev/null 2>&1 &
    pid=$$!
    for wait in $$(seq 50); do
      if redis-cli -p "$$port" ping >/dev/null 2>&1; then pids="$$pids $$pid"; return; fi
      kill -0 "$$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$$pid" 2>/dev/null || true
  done
  echo "demo: could not start redis-server" >&2; exit 1
}
if [ -z "$${REDLOCK_URLS:-}" ]; then
  urls=""
  for n in 1 2 3; do start_instance; urls="$$urls redis://127.0.0.1:$$port"; done
  export REDLOCK_URLS="$$urls"
  echo "demo: three throwaway instances:$$REDLOCK_URLS"
fi
job() {
  "$$REDLOCK" run --wait 30s demo-key -- sh -c \
    'for step in 1 2 3; do echo "  [$$(date +%T.%3N)] job '"$$1"' (pid $$$$) holds demo-key, step $$step"; sleep 0.4; done'
}
echo "demo: starting jobs A and B at the same time on one key"
job A & a=$$!
job B & b=$$!
wait $$a; wait $$b
echo "demo: both jobs ran, one after the other (their steps never interleave)"
endef
export DEMO_SCRIPT

DEB_MAINTAINER = redlock maintainers <maintainers@redlock.invalid>
define DEB_DESCRIPTION
Description: run a command under a distributed lock held in Redis
 redlock takes a lock on a quorum of independent Redis masters (the Redlock
 algorithm), runs a command while it keeps the lease alive, stops the command
 before the lease could lapse if the lock is lost, and passes its exit status
 through. It also shows who holds a lock (inspect), clears a stuck one
 (force-release), takes and releases locks across the steps of a script, and
 checks a deployment (doctor).
endef
export DEB_DESCRIPTION
define DEB_COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: redlock

Files: *
Copyright: 2026 the redlock authors
License: none-granted
 No license has been chosen for redlock yet: all rights are reserved by its
 authors until one is.
endef
export DEB_COPYRIGHT
# Each tag lintian reports that is meant, with the reason (shipped in the package, where
# lintian reads it).
define DEB_LINTIAN_OVERRIDES
# One static executable on purpose: a cron tick then pays no dynamic loading (about 2 ms
# a run with the shared Swift runtime), and the package depends on nothing.
redlock: statically-linked-binary [usr/bin/redlock]
endef
export DEB_LINTIAN_OVERRIDES
