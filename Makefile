# leadhub - build, test and run.
#
#   make              build build/leadhubd and build/plugins/*.so
#   make console      build the web console into console/dist (npm ci, types from
#                     docs/openapi.yaml, type check, Vite); Node.js from Debian when missing
#   make test         install missing packages, build, run every test suite (Check, the
#                     console's Vitest and browser suites) against a throwaway PostgreSQL
#                     (or $LEADHUB_TEST_DATABASE_URL)
#   make asan         the same suites under AddressSanitizer + UndefinedBehaviorSanitizer
#   make run          install missing packages, build (the console too), start a throwaway
#                     PostgreSQL unless $DATABASE_URL is set, migrate, run the daemon with
#                     .run/config/ (a scratch copy of config/; the console at /console/);
#                     .run/env holds its development settings for other terminals;
#                     SIGTERM/SIGINT stop the daemon, then PostgreSQL
#   make psql         psql on the database `make run` started
#   make reload       reload the configuration of the daemon `make run` started (SIGHUP)
#   make install      PREFIX=/usr/local (DESTDIR supported): daemon, plugins, SDK, fake host,
#                     leadhub-dev; the console into $(PREFIX)/share/leadhub/console when it
#                     is built or npm can build it
#   make install-asan the sanitizer build of the daemon beside it, as leadhubd-asan
#   make console-screenshots   copy the browser suite's screenshots into docs/console/
#   make lint | format | format-check | bench | clean
#   make fuzz         build the libFuzzer targets (clang, in build/fuzz) and run each for
#                     FUZZ_SECONDS (default 60)
#   make soak         the long forms of the durability and hostile-load tests (kill -9
#                     rounds, database restarts under load, floods, slowloris, a frozen
#                     database) against a throwaway PostgreSQL
#   make deploy-check render and validate the Kubernetes manifests offline (deploy/)
#   make image-check  build the image's root as deploy/Dockerfile says, without a container
#                     engine, and start the daemon in it read-only as its non-root user
#
# Variables: CC=clang, BUILD=dir, SANITIZE=1, PREFIX, DESTDIR, FUZZ_SECONDS.

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
# beside the binary, where leadhubd looks by default (<bindir>/../share/leadhub/console)
CONSOLE_INSTALL_DIR = $(PREFIX)/share/leadhub/console
SANITIZE ?=

VERSION := 0.1.0
NPROC := $(shell nproc 2>/dev/null || echo 2)
PKGS := libcurl jansson libpq libmicrohttpd libcrypto yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null)

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wpointer-arith -Wundef -Wvla -Wno-format-nonliteral
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT := -O1 -g
PLUGIN_LDFLAGS :=
else ifeq ($(SANITIZE),fuzz)
# Everything instrumented for libFuzzer's coverage; only the fuzz programs link its main.
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer
OPT := -O1 -g
PLUGIN_LDFLAGS :=
else
SAN_FLAGS :=
# As distributions build: _FORTIFY_SOURCE makes overflows of fixed-size buffers (an fd_set
# past FD_SETSIZE, a memcpy past its destination) abort rather than corrupt. The suites run
# against this build (`make test`), so CI tests it without a build of its own.
OPT := -O2 -g -D_FORTIFY_SOURCE=2
# A plugin may not depend on daemon symbols: every undefined reference fails the link.
PLUGIN_LDFLAGS := -Wl,--no-undefined
endif

ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DLEADHUB_VERSION='"$(VERSION)"' $(OPT) $(WARNINGS) \
              $(SAN_FLAGS) -pthread -MMD -MP -Isdk -Icore $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SAN_FLAGS) -pthread $(LDFLAGS)
PLUGIN_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARNINGS) $(SAN_FLAGS) -fPIC \
                 -fvisibility=hidden -MMD -MP -Isdk -Iplugins/common $(shell pkg-config --cflags jansson 2>/dev/null) $(CFLAGS)

# --- sources -------------------------------------------------------------------------
CORE_SRC := $(filter-out core/main.c,$(wildcard core/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/migrations.o \
            $(BUILD)/obj/gen/plugin_template.o
PLUGIN_TEMPLATE := $(sort $(wildcard sdk/template/*.in))
CORE_LIB := $(BUILD)/libleadhub-core.a
DAEMON   := $(BUILD)/leadhubd
MIGRATIONS := $(sort $(wildcard core/migrations/*.sql))

# plugins/common/ is not a plugin: its .c files make a PIC, hidden-visibility archive that
# every plugin links after its own objects, so a plugin pulls in only what it calls.
COMMON_SRC   := $(wildcard plugins/common/*.c)
COMMON_LIB   := $(BUILD)/plugins/libleadhub-common.a
PLUGIN_NAMES := $(filter-out common,$(sort $(notdir $(patsubst %/,%,$(dir $(wildcard plugins/*/*.c))))))
PLUGIN_SOS   := $(PLUGIN_NAMES:%=$(BUILD)/plugins/%.so)

# The fake host (sdk/testing/): an installed library for plugins' unit tests, holding the
# host's own event and settings validators (these core objects) rather than copies.
TESTKIT_SRC := $(wildcard sdk/testing/*.c)
TESTKIT_CORE := event util config_settings config_value config_ref diag config_suggest \
                config_where config_object log config_yaml config_json
TESTKIT_LIB := $(BUILD)/libleadhub-test.a

TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)
TESTLIB     := $(BUILD)/libleadhub-testlib.a
UNIT_TESTS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
E2E_TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/e2e/test_*.c))
PLUGIN_TESTS := $(patsubst plugins/%.c,$(BUILD)/tests/plugins/%,$(wildcard plugins/*/tests/test_*.c))
FIXTURE_SOS := $(patsubst tests/fixtures/plugins/%.c,$(BUILD)/tests/fixtures/%.so,$(wildcard tests/fixtures/plugins/*.c))
TEST_BINS   := $(UNIT_TESTS) $(E2E_TESTS) $(PLUGIN_TESTS)
# The next release of the rolling-update test: this tree with the fixture migrations after
# its own (the real ones end far below 9000).
NEXT_MIGRATIONS := $(MIGRATIONS) $(sort $(wildcard tests/fixtures/migrations/*.sql))
NEXT_DAEMON := $(BUILD)/tests/leadhubd-next
BENCH_SRC   := $(wildcard bench/*.c)
BENCH       := $(BUILD)/bench/leadhub-bench

# --- top-level targets -----------------------------------------------------------------
.PHONY: all build tests test asan run psql reload deps install install-asan uninstall lint format \
        format-check bench fuzz fuzz-build soak clean deploy-check image-check console \
        console-deps console-test-deps console-screenshots

all: $(DAEMON) $(PLUGIN_SOS)

build: all

tests: all $(TESTKIT_LIB) $(TEST_BINS) $(FIXTURE_SOS) $(NEXT_DAEMON) $(if $(BENCH_SRC),$(BENCH))

# `make test` and `make run` first make sure the packages are there (the pkg-config
# lookups above need them), then build in a sub-make that sees them.
test: deps console-test-deps
	@$(MAKE) --no-print-directory -j$(NPROC) tests console
	@BUILD=$(BUILD) scripts/run-tests.sh

asan: deps console-test-deps
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build/asan SANITIZE=1 CC=$(CC) tests console
	@BUILD=build/asan SANITIZE=1 scripts/run-tests.sh

# exec: no shell between make and the script. Ctrl-C stops the daemon cleanly (exit 0);
# a shell in between would die of the SIGINT itself, and make report "Interrupt".
run: deps console-deps
	@$(MAKE) --no-print-directory -j$(NPROC) all console
	@BUILD=$(BUILD) exec scripts/run-daemon.sh

psql:
	@scripts/run-daemon.sh psql

# SIGHUP to the daemon `make run` started, and no other (its pid file is locked by it).
reload:
	@BUILD=$(BUILD) scripts/run-daemon.sh reload

deps:
	@scripts/deps.sh

console-deps:
	@scripts/console-deps.sh build

console-test-deps:
	@scripts/console-deps.sh test

# --- the web console (console/, docs/console.md) ---------------------------------------------
# npm ci once per change of the lock file; the build regenerates the API types from
# docs/openapi.yaml and type-checks before Vite bundles, so an API change the console does
# not follow stops here.
CONSOLE_SRC := $(filter-out console/src/api/schema.gen.ts,$(shell find console/src console/public \
                   -type f 2>/dev/null)) console/index.html console/vite.config.ts \
               console/tsconfig.json console/package.json
CONSOLE_DIST := console/dist/index.html

console: $(CONSOLE_DIST)

console/node_modules/.package-lock.json: console/package-lock.json console/package.json
	cd console && npm ci --no-audit --no-fund
	@touch $@

$(CONSOLE_DIST): console/node_modules/.package-lock.json $(CONSOLE_SRC) docs/openapi.yaml
	cd console && npm run --silent build

console-screenshots:
	@test -d $(BUILD)/console-screenshots || { echo "run make test first: the browser suite writes them"; exit 1; }
	install -d docs/console
	cp $(BUILD)/console-screenshots/*.png docs/console/

# --- daemon and core ---------------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	scripts/embed-migrations.sh $(MIGRATIONS) > $@

# The skeleton `leadhubd new-plugin` writes, compiled in.
$(BUILD)/gen/plugin_template.c: $(PLUGIN_TEMPLATE) scripts/embed-template.sh
	@mkdir -p $(dir $@)
	scripts/embed-template.sh $(PLUGIN_TEMPLATE) > $@

$(BUILD)/obj/gen/plugin_template.o: $(BUILD)/gen/plugin_template.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/gen/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(DAEMON): $(BUILD)/obj/core/main.o $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl

# --- plugins: plugins/<name>/*.c -> build/plugins/<name>.so --------------------------------
$(COMMON_LIB): $(COMMON_SRC:%.c=$(BUILD)/pobj/%.o)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

define plugin_rules
$(BUILD)/plugins/$(1).so: $(patsubst %.c,$(BUILD)/pobj/%.o,$(wildcard plugins/$(1)/*.c)) $(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(SAN_FLAGS) -shared $$(PLUGIN_LDFLAGS) -o $$@ $$^ $$(JANSSON_LIBS)
endef
$(foreach p,$(PLUGIN_NAMES),$(eval $(call plugin_rules,$(p))))

$(BUILD)/pobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -c $< -o $@

# --- tests -------------------------------------------------------------------------------
$(BUILD)/obj/sdk/testing/%.o: sdk/testing/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isdk/testing -c $< -o $@

$(TESTKIT_LIB): $(TESTKIT_SRC:%.c=$(BUILD)/obj/%.o) $(TESTKIT_CORE:%=$(BUILD)/obj/core/%.o)
	@rm -f $@
	ar rcs $@ $^

$(TESTLIB): $(TESTLIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests/lib -Isdk/testing -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTLIB) $(TESTKIT_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) -ldl

$(BUILD)/obj/plugins/%.o: plugins/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests/lib -Iplugins/common -Isdk/testing -c $< -o $@

# Plugin tests include their plugin's sources; what those call in plugins/common comes
# from its archive.
$(BUILD)/tests/plugins/%: $(BUILD)/obj/plugins/%.o $(TESTLIB) $(TESTKIT_LIB) $(CORE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) -ldl

$(BUILD)/gen/migrations-next.c: $(NEXT_MIGRATIONS) scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	scripts/embed-migrations.sh $(NEXT_MIGRATIONS) > $@

$(BUILD)/obj/gen/migrations-next.o: $(BUILD)/gen/migrations-next.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(NEXT_DAEMON): $(BUILD)/obj/core/main.o $(filter-out $(BUILD)/obj/gen/migrations.o,$(CORE_OBJ)) \
                $(BUILD)/obj/gen/migrations-next.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl

# Fixture plugins for the loader tests, deliberately broken in one way each. They are
# built without --no-undefined: some are broken on purpose in ways a linker would catch.
$(BUILD)/tests/fixtures/%.so: tests/fixtures/plugins/%.c sdk/leadhub.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) $(SAN_FLAGS) -shared -o $@ $< $(JANSSON_LIBS)

# --- fuzzing -----------------------------------------------------------------------------
# Targets are fuzz_<name>.c files defining LLVMFuzzerTestOneInput: tests/fuzz/ (core, linked
# with the core library) and plugins/<plugin>/fuzz/ (compiled with that plugin's own
# plugins/<plugin>/*.c too, and linked with the plugins/common archive); seeds in a sibling
# corpus_<name>/. `make fuzz` builds them with clang in build/fuzz and runs each for
# FUZZ_SECONDS (scripts/run-fuzz.sh).
FUZZ_SECONDS ?= 60
FUZZ_CORE_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_PLUGIN_SRC := $(wildcard plugins/*/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_CORE_SRC)) \
             $(foreach f,$(FUZZ_PLUGIN_SRC),$(BUILD)/fuzz/$(basename $(notdir $(f))))

fuzz: deps
	@scripts/fuzz-deps.sh
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build/fuzz SANITIZE=fuzz CC=clang fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) BUILD=build/fuzz scripts/run-fuzz.sh

fuzz-build: $(FUZZ_BINS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -ldl

define plugin_fuzz_rules
$(BUILD)/fuzz/$(basename $(notdir $(1))): $(patsubst %.c,$(BUILD)/obj/%.o,$(1)) \
        $(patsubst %.c,$(BUILD)/pobj/%.o,$(wildcard $(dir $(patsubst %/,%,$(dir $(1))))*.c)) \
        $(CORE_LIB) $(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -fsanitize=fuzzer -o $$@ $$^ $$(PKG_LIBS) -ldl
endef
$(foreach f,$(FUZZ_PLUGIN_SRC),$(eval $(call plugin_fuzz_rules,$(f))))

# --- install -----------------------------------------------------------------------------
# The SDK: leadhub.h, and the connector helpers (leadhub-helpers.h and the headers it
# includes from include/leadhub/), header only.
SDK_HELPER_HEADERS := $(wildcard sdk/leadhub/*.h)

# The console is built when npm is there (a build machine without Node.js installs the
# daemon alone: /console/ then answers 404 and says why in the log).
install: all $(TESTKIT_LIB)
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory console; \
	 else echo "install: npm not found: the console is not built (make console-deps)" >&2; fi
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/leadhub/plugins \
	    $(DESTDIR)$(PREFIX)/include/leadhub $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 0755 $(DAEMON) $(DESTDIR)$(PREFIX)/bin/leadhubd
	install -m 0755 sdk/leadhub-dev $(DESTDIR)$(PREFIX)/bin/leadhub-dev
	install -m 0755 scripts/pg.sh $(DESTDIR)$(LIBDIR)/leadhub/pg.sh
	$(if $(PLUGIN_SOS),install -m 0755 $(PLUGIN_SOS) $(DESTDIR)$(LIBDIR)/leadhub/plugins/)
	install -m 0644 sdk/leadhub.h sdk/leadhub-helpers.h sdk/testing/leadhub-test.h \
	    $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(TESTKIT_LIB) $(DESTDIR)$(LIBDIR)/libleadhub-test.a
	install -m 0644 $(SDK_HELPER_HEADERS) sdk/testing/fake_http.h $(DESTDIR)$(PREFIX)/include/leadhub/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    sdk/leadhub-sdk.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/leadhub-sdk.pc
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    sdk/leadhub-test.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/leadhub-test.pc
	@if [ -f $(CONSOLE_DIST) ]; then \
	    rm -rf $(DESTDIR)$(CONSOLE_INSTALL_DIR) && install -d $(DESTDIR)$(CONSOLE_INSTALL_DIR) && \
	    cp -R console/dist/. $(DESTDIR)$(CONSOLE_INSTALL_DIR)/ && \
	    echo "install: the console in $(DESTDIR)$(CONSOLE_INSTALL_DIR)"; fi

# The sanitizer build of the daemon, installed beside the normal one as leadhubd-asan:
# where an out-of-tree plugin built with -fsanitize runs (docs/sdk.md, "Sanitizers").
# Preloading a sanitizer runtime into the plain leadhubd is no substitute: on Debian 12 any
# process that loads libp11-kit (through libpq and libcurl) then hangs at exit.
ASAN_BUILD ?= build/asan
install-asan: deps
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=$(ASAN_BUILD) SANITIZE=1 CC=$(CC) \
	    $(ASAN_BUILD)/leadhubd
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(ASAN_BUILD)/leadhubd $(DESTDIR)$(PREFIX)/bin/leadhubd-asan

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/leadhubd $(DESTDIR)$(PREFIX)/bin/leadhubd-asan \
	    $(DESTDIR)$(PREFIX)/bin/leadhub-dev \
	    $(DESTDIR)$(PREFIX)/include/leadhub.h \
	    $(DESTDIR)$(PREFIX)/include/leadhub-helpers.h $(DESTDIR)$(LIBDIR)/pkgconfig/leadhub-sdk.pc \
	    $(DESTDIR)$(PREFIX)/include/leadhub-test.h $(DESTDIR)$(LIBDIR)/libleadhub-test.a \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/leadhub-test.pc
	rm -rf $(DESTDIR)$(PREFIX)/include/leadhub
	rm -rf $(DESTDIR)$(LIBDIR)/leadhub $(DESTDIR)$(PREFIX)/share/leadhub

# --- quality -----------------------------------------------------------------------------
FORMAT_FILES := $(wildcard core/*.c core/*.h sdk/*.h sdk/leadhub/*.h sdk/testing/*.[ch] plugins/*/*.c plugins/*/*.h \
                  plugins/*/tests/*.c plugins/*/fuzz/*.c tests/*/*.c tests/*/*.h \
                  tests/fixtures/plugins/*.c bench/*.c bench/*.h)

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

lint: $(BUILD)/gen/migrations.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem -Isdk -Icore -Iplugins/common core sdk plugins
	clang-tidy --quiet $(CORE_SRC) core/main.c $(wildcard plugins/*/*.c) -- \
	    -std=c11 -D_GNU_SOURCE -DLEADHUB_VERSION='"$(VERSION)"' -Isdk -Icore -Iplugins/common $(PKG_CFLAGS)

# `make bench`: bench/run.sh starts a throwaway PostgreSQL (unless LEADHUB_TEST_DATABASE_URL
# is set) and runs build/bench/leadhub-bench; BENCH_ARGS are passed on (e.g. --quick).
bench: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all $(BENCH)
	@BUILD=$(BUILD) bench/run.sh $(BENCH_ARGS)

# The Kubernetes manifests (deploy/kubernetes): every overlay rendered and checked offline
# (schemas, unknown fields, Pod Security restricted, the configuration it ships), then the
# tests that each check fails on a broken input. Needs node, npm and kubectl.
deploy-check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@BUILD=$(BUILD) scripts/deploy-check.sh
	@BUILD=$(BUILD) tests/deploy/test_deploy_check.sh

# deploy/Dockerfile without a container engine (scripts/image-check.py): its stages built in
# debootstrap roots, the daemon started read-only as the image's user; then the tests that
# each rule fails on a broken Dockerfile. A few minutes; nothing is cached between runs.
image-check:
	@scripts/deps.sh image
	@work=$$(mktemp -d /var/tmp/leadhub-image-check.XXXXXX) && \
	    trap 'rm -rf "$$work"' EXIT && \
	    scripts/image-check.py --work "$$work" && \
	    tests/image/test_image_check.sh "$$work"

soak: deps
	@$(MAKE) --no-print-directory -j$(NPROC) tests
	@BUILD=$(BUILD) scripts/run-soak.sh

$(BUILD)/obj/bench/%.o: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/lib -c $< -o $@

$(BENCH): $(BENCH_SRC:%.c=$(BUILD)/obj/%.o) $(TESTLIB) $(TESTKIT_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) -ldl -lm

clean:
	rm -rf build console/dist

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
