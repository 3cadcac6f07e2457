# netsock: BSD sockets for Lua 5.4
#   make          build the C core into build/
#   make test     run the specs (installs what is missing, as root)
#   make test PORTABLE=1  the same on the portable build (build/portable/):
#                 the generic POSIX seams (sys_posix.c, ready_poll.c),
#                 strict POSIX.1-2008 (docs/design.md, "The seams")
#   make demo     a short tour of the examples
#   make sanitize the specs under AddressSanitizer + UBSan
#   make bench    benchmarks side by side with LuaSocket, Python and C
#   make prop     the randomized file-object test with more seeds (SEEDS=N)
#   make taskfuzz the task-loop fuzzer with more seeds (SEEDS=N; SANITIZE=1: under ASan)
#   make rock     the release source rock (build/rock/), checked by building it
#   make fresh    make demo and make test in a fresh minimal Debian root (tools/fresh; root)

LUA      ?= lua5.4
LUA_INC  ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
CC       ?= cc
OPT      ?= -O2 -g
WARN     := -std=c99 -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes \
            -Wstrict-prototypes -Wpointer-arith -Wcast-qual -Wundef
STRICT   ?=
# PORTABLE=1: the core as strict POSIX.1-2008 (no _GNU_SOURCE) over the
# generic seams, into build/portable/ beside the normal build
PORTABLE ?=
ifeq ($(PORTABLE),1)
OUT      := build/portable
FEATURES := -D_POSIX_C_SOURCE=200809L
else
OUT      := build
FEATURES := -D_GNU_SOURCE
endif
CFLAGS   += $(OPT) $(WARN) $(STRICT) -pthread -fPIC -fvisibility=hidden $(FEATURES) $(LUA_INC)
LDFLAGS  += -shared -pthread
BUSTED   ?= busted

# TLS (netsock.tls, src/tls.c) on OpenSSL 3 when pkg-config finds it;
# make TLS=no builds without it (netsock.tls then says so)
TLS      ?= $(shell pkg-config --exists openssl 2>/dev/null && echo yes || echo no)
ifeq ($(TLS),yes)
TLS_CFLAGS := -DNS_HAVE_TLS $(shell pkg-config --cflags openssl)
TLS_LIBS   := $(shell pkg-config --libs openssl)
endif
CFLAGS   += $(TLS_CFLAGS)
LDLIBS   += $(TLS_LIBS)

# The platform's seams (src/sys_*.c, src/ready_*.c): which ones, and
# what the generic one may use, by feature tests (tools/probe compiles
# and links the small programs of tools/probes/), kept in config.mk
ifeq ($(filter clean,$(MAKECMDGOALS)),)
-include $(OUT)/config.mk
endif
SEAMS    ?= sys_linux ready_epoll
SRCS     := $(filter-out src/sys_%.c src/ready_%.c,$(wildcard src/*.c)) $(SEAMS:%=src/%.c)
HDRS     := $(wildcard src/*.h)
OBJS     := $(SRCS:src/%.c=$(OUT)/obj/%.o)
CORE     := $(OUT)/netsock/core.so

# the console's line editor (src/edit/edit.c), only where libedit is found
EDIT_CFLAGS := $(shell pkg-config --cflags libedit 2>/dev/null)
EDIT_LIBS   := $(shell pkg-config --libs libedit 2>/dev/null)
EDIT        := $(if $(EDIT_LIBS),$(OUT)/netsock/edit.so)

SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SANOBJS  := $(SRCS:src/%.c=$(OUT)/asan/obj/%.o)
SANCORE  := $(OUT)/asan/netsock/core.so
SANEDIT  := $(if $(EDIT_LIBS),$(OUT)/asan/netsock/edit.so)

.PHONY: all test demo sanitize bench lint clean deps deps-test install-check prop taskfuzz rock console fresh

all: $(CORE) $(EDIT)

$(OUT)/config.mk: tools/probe $(wildcard tools/probes/*.c)
	@mkdir -p $(@D)
	@sh tools/probe "$(CC)" "$(PORTABLE)" >$@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }
	@sed -n 's/^SEAMS := /probed: the seams /p' $@

# The generic seam sees the system's whole interface (peer credentials
# and dladdr have no POSIX form), and so do the tables of the system's
# names (constants, socket options, errno and EAI codes: core.c,
# options.c, errors.c), which offer what the system has; every other
# file only what FEATURES say (strict POSIX.1-2008 in the portable build)
WHOLE     := sys_posix core options errors
SEAMFLAGS = $(if $(filter sys_posix,$*),$(SEAM_DEFS)) \
            $(if $(filter $(WHOLE),$*),$(if $(filter 1,$(PORTABLE)),-D_GNU_SOURCE))

$(OUT)/obj/%.o: src/%.c $(HDRS) $(OUT)/config.mk
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SEAMFLAGS) -c -o $@ $<

$(CORE): $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LDFLAGS) $(LDLIBS)

$(OUT)/netsock/edit.so: src/edit/edit.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -D_GNU_SOURCE $(EDIT_CFLAGS) -o $@ $< $(LDFLAGS) $(EDIT_LIBS)

$(OUT)/asan/obj/%.o: src/%.c $(HDRS) $(OUT)/config.mk
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SEAMFLAGS) $(SAN) -O1 -c -o $@ $<

$(SANCORE): $(SANOBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -o $@ $(SANOBJS) $(LDFLAGS) $(LDLIBS)

$(OUT)/asan/netsock/edit.so: src/edit/edit.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -O1 $(EDIT_CFLAGS) -o $@ $< $(LDFLAGS) $(EDIT_LIBS)

# What each job needs, as Debian package names. tools/deps checks for what
# each gives (a command, a header, a Lua module, a file), installs what is
# missing with apt-get as root where apt-get exists, and otherwise says
# what is missing (with Fedora and Alpine names) and stops;
# NETSOCK_DEPS=skip goes on anyway. DEPS_TEST is everything any spec uses
# (a spec checks for its needs at its top: H.needs in spec/helpers.lua):
# the LuaSocket layer's specs run LuaSocket, LuaSec and copas; service
# names come from netbase's /etc/services; the offline lookups need ip.
DEPS_BUILD := lua5.4 liblua5.4-dev gcc libc6-dev make pkg-config libssl-dev
DEPS_TEST  := $(DEPS_BUILD) libedit-dev lua-busted lua-filesystem python3 netcat-openbsd curl procps strace \
              openssl ca-certificates lua-socket lua-sec lua-copas netbase coreutils util-linux iproute2

deps:
	@sh tools/deps $(DEPS_BUILD)

deps-test:
	@sh tools/deps $(DEPS_TEST)

# the portable build's specs load its core (NETSOCK_CPATH)
SPECENV  := $(if $(filter 1,$(PORTABLE)),NETSOCK_CPATH="$(OUT)/?.so")

test: deps-test
	@$(MAKE) --no-print-directory all
	@$(SPECENV) sh tools/runspecs $(BUSTED) --lua=$(LUA) $(SPECS)

demo: deps
	@sh tools/deps openssl ca-certificates
	@$(MAKE) --no-print-directory all
	@$(LUA) -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path; package.cpath="build/?.so;"..package.cpath' examples/tour.lua
	@echo; echo "== the console (bin/netsock), typed from a script: a server, its client, the tasks"
	@printf '%s\n' \
	  'srv = netsock.serve("127.0.0.1", 0, function(c) c:sendall("hello from a task\n") end)' \
	  'c = netsock.create_connection(srv:getsockname())' \
	  'c:recv(100)' \
	  '= #netsock.tasks()' | \
	  LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;" $(LUA) bin/netsock

# the console (bin/netsock) from the checkout: make console, or
# make console ARGS="console PATH" to attach to a program's endpoint
console: all
	@LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;" $(LUA) bin/netsock $(ARGS)

# ASan must come first in the process, so the interpreter runs with the
# runtime preloaded; leak detection is valgrind's job (the interpreter's
# exit path does not free everything busted allocated). The plain build
# is made too: examples run as a user runs them, with it.
ASAN_RT = $(shell $(CC) -print-file-name=libasan.so)
sanitize: deps-test all $(SANCORE) $(SANEDIT)
	@test -f "$(ASAN_RT)" || { echo "sanitize: no libasan.so for $(CC) ($(ASAN_RT))"; exit 1; }
	@LD_PRELOAD=$(ASAN_RT) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 NETSOCK_CPATH="$(OUT)/asan/?.so" NETSOCK_SANITIZE=1 \
	 sh tools/runspecs $(BUSTED) --lua=$(LUA) $(SPECS)

install-check: deps-test
	@sh tools/deps luarocks git
	@sh tools/install-check

# the release source rock from the committed tree (build/rock/), built
# into a scratch tree to check it (tools/rock); install-check runs it too
rock: deps-test
	@sh tools/deps luarocks
	@sh tools/rock

# the README's two commands in a minimal Debian root, as on a new machine;
# the root and apt's downloads are cached in /var/cache/netsock-fresh
fresh:
	@sh tools/deps debootstrap
	@sh tools/fresh

# every file compiled afresh with -Werror (PORTABLE=1: the portable build's)
lint: deps
	@rm -rf $(OUT)/obj $(OUT)/netsock $(OUT)/config.mk
	@$(MAKE) --no-print-directory all STRICT=-Werror

# make bench [BENCH="bulk pingpong"]; sizes: BENCH_SCALE=0.1 (see bench/run)
# make bench-instr: instructions per operation under callgrind (bench/instr/run)
# make bench draws SVG charts with gnuplot (bench/charts) into build/bench/charts
.PHONY: bench-instr deps-bench
DEPS_BENCH := $(DEPS_BUILD) lua-socket python3 util-linux valgrind coreutils \
              lua-cqueues lua-copas wrk nginx-light netcat-openbsd \
              openssl lua-sec gnuplot-nox

deps-bench:
	@sh tools/deps $(DEPS_BENCH)

bench: deps-bench
	@$(MAKE) --no-print-directory all
	@sh bench/run $(BENCH)

bench-instr: deps-bench
	@$(MAKE) --no-print-directory all
	@python3 bench/instr/run

# the randomized file-object test with more seeds: make prop SEEDS=N runs
# N new seeds (printed); make prop PROP_SEEDS="7 42" reruns given ones
SEEDS ?= 20
prop: all
	@NETSOCK_PROP_COUNT=$(SEEDS) NETSOCK_PROP_SEEDS="$(PROP_SEEDS)" \
	 sh tools/runspecs $(BUSTED) --lua=$(LUA) spec/prop_spec.lua

# the task-loop fuzzer (spec/taskfuzz_spec.lua) with more seeds: make
# taskfuzz SEEDS=N runs N new seeds (printed), TASKFUZZ_SEEDS="7 42" the
# given ones; SANITIZE=1 runs them under ASan+UBSan (make sanitize's setup).
# make test (and so CI) runs its fixed seeds, sanitize and valgrind too.
taskfuzz: all
ifeq ($(SANITIZE),1)
	@NETSOCK_TASKFUZZ_COUNT=$(SEEDS) NETSOCK_TASKFUZZ_SEEDS="$(TASKFUZZ_SEEDS)" \
	 $(MAKE) --no-print-directory sanitize SPECS=spec/taskfuzz_spec.lua
else
	@NETSOCK_TASKFUZZ_COUNT=$(SEEDS) NETSOCK_TASKFUZZ_SEEDS="$(TASKFUZZ_SEEDS)" \
	 sh tools/runspecs $(BUSTED) --lua=$(LUA) spec/taskfuzz_spec.lua
endif

clean:
	rm -rf build

# {====== Hardening (issue 8): valgrind, libFuzzer, soak ======
#   make valgrind   the specs under memcheck (child processes not traced);
#                   specs tagged #slow or #timing (thread timing, which
#                   valgrind serializes) are skipped (VALGRIND_EXCLUDE)
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (default 60)
#   make soak       the soak runs at SOAK_SCALE (1 = the full counts)
DEPS_VALGRIND := $(DEPS_TEST) valgrind
DEPS_FUZZ     := $(DEPS_BUILD) clang libclang-rt-14-dev iproute2
VALGRIND_EXCLUDE ?= slow,timing
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS  := fuzz_recv fuzz_addr fuzz_options
ifeq ($(TLS),yes)
FUZZ_TARGETS  += fuzz_tls
endif
FUZZCC        ?= clang
FUZZSAN       := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZOBJS      := $(SRCS:src/%.c=build/fuzz/obj/%.o)
.SECONDARY: $(FUZZOBJS)
SOAK_SCALE    ?= 1

.PHONY: valgrind fuzz fuzz-build soak

valgrind: all
	@sh tools/deps $(DEPS_VALGRIND)
	@$(SPECENV) sh tools/valgrind $(LUA) $(VALGRIND_EXCLUDE) $(SPECS)

build/fuzz/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZCC) $(OPT) $(WARN) -D_GNU_SOURCE $(LUA_INC) $(TLS_CFLAGS) $(FUZZSAN) -c -o $@ $<

FUZZWRAP      := -Wl,--wrap=getaddrinfo,--wrap=getnameinfo,--wrap=connect,--wrap=bind,--wrap=sendto,--wrap=setsockopt
build/fuzz/fuzz_%: spec/fuzz/harness.c spec/fuzz/fuzz_%.lua $(FUZZOBJS)
	@mkdir -p $(@D)
	$(FUZZCC) $(OPT) -D_GNU_SOURCE $(LUA_INC) $(subst fuzzer-no-link,fuzzer,$(FUZZSAN)) \
	  -DFUZZ_DRIVER='"$(CURDIR)/spec/fuzz/fuzz_$*.lua"' -o $@ spec/fuzz/harness.c \
	  $(FUZZOBJS) $(FUZZWRAP) -llua5.4 -lm $(TLS_LIBS)

fuzz-build:
	@sh tools/deps $(DEPS_FUZZ)
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=build/fuzz/%)

fuzz: fuzz-build
	@sh tools/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

soak: deps-test $(CORE)
	@SOAK_SCALE=$(SOAK_SCALE) $(LUA) spec/soak/soak.lua
# }======

# {====== LuaSocket's own suite on Debian's LuaSocket and on netsock.luasocket
# (tools/luasocket-suite: fetched at run time from Debian's source package
# into ~/.cache/netsock, never into the checkout; 42 cases each, about
# four minutes)
DEPS_LSSUITE := $(DEPS_BUILD) lua-socket python3 curl apt
.PHONY: luasocket-suite
luasocket-suite: $(CORE)
	@sh tools/deps $(DEPS_LSSUITE)
	@LUA=$(LUA) sh tools/luasocket-suite
# }======

# {====== Windows (issue 26): make windows, make test-windows ======
#   make windows       build/windows/netsock/core.dll, cross-built with
#                      mingw-w64 against Lua 5.4 for Windows, which
#                      tools/windows-lua cross-builds once from Debian's
#                      lua5.4 source package into WINCACHE (outside the
#                      checkout; nothing fetched is committed)
#                      netsock.tls is built in, on OpenSSL's static
#                      libraries, which tools/windows-openssl cross-builds
#                      once per version of Debian's openssl source package
#                      into WINCACHE/openssl-VERSION (WINTLS=no: without)
#   make test-windows  the Windows lane under wine (spec/windows/run.lua);
#                      its Linux peers (openssl, curl) come from
#                      spec/windows/peers.py, which tools/windows-test starts
# The Winsock port is src/win/ (README "Windows"); the Linux-only seams
# (sys_*.c, ready_*.c), signal_posix.c and process.c stay out.
DEPS_WINDOWS := $(DEPS_BUILD) gcc-mingw-w64-x86-64 wine64 wine perl python3 openssl curl \
                ca-certificates
WINCACHE  ?= /var/cache/netsock-windows
MINGW     ?= x86_64-w64-mingw32
WINCC     ?= $(MINGW)-gcc
WINE      ?= /usr/lib/wine/wine64
WINLUA    := $(WINCACHE)/lua
WINTLS    ?= yes
WINOSSL   := $(WINCACHE)/openssl
WINSRCS   := $(filter-out src/sys_%.c src/ready_%.c src/signal_posix.c src/process.c \
               $(if $(filter yes,$(WINTLS)),,src/tls%.c),$(SRCS)) \
             $(wildcard src/win/*.c)
WINHDRS   := $(HDRS) $(wildcard src/win/*.h src/win/include/*.h src/win/include/*/*.h)
WINOBJS   := $(patsubst src/%.c,build/windows/obj/%.o,$(WINSRCS))
WINCORE   := build/windows/netsock/core.dll
# the lane's spec files: spec/windows/ and the busted specs whose peers
# are netsock itself (the others start python3, nc or /bin/sh: README)
WINSPECS  ?= spec/windows/winsock_spec.lua spec/windows/wspeer_spec.lua spec/event_spec.lua spec/group_spec.lua \
             spec/join_spec.lua spec/queue_spec.lua spec/semaphore_spec.lua \
             spec/shutdown_spec.lua spec/timeout_spec.lua \
             $(if $(filter yes,$(WINTLS)),spec/windows/tls_spec.lua)
WINCFLAGS := $(OPT) $(WARN) $(STRICT) -D_FILE_OFFSET_BITS=64 \
             -Isrc/win/include -Isrc -I$(WINLUA)
# OpenSSL's static libraries and what they link (its Configure's
# mingw64 EX_LIBS: ws2_32, gdi32, crypt32)
ifeq ($(WINTLS),yes)
WINCFLAGS += -DNS_HAVE_TLS -I$(WINOSSL)/include
WINTLSLIBS := $(WINOSSL)/lib/libssl.a $(WINOSSL)/lib/libcrypto.a -lgdi32 -lcrypt32
WINTLSDEP  := windows-openssl
endif

.PHONY: windows windows-deps windows-lua windows-openssl test-windows windows-test

windows-deps:
	@sh tools/deps $(DEPS_WINDOWS)

$(WINLUA)/lua.exe:
	@sh tools/windows-lua $(WINCACHE)

windows-lua: windows-deps $(WINLUA)/lua.exe

# keyed by the source package's version: a warm run is one apt-cache call
windows-openssl: windows-deps
	@sh tools/windows-openssl $(WINCACHE)

# the flags each object was compiled with (WINTLS=no, OPT=...): a change
# compiles them again
build/windows/cflags: FORCE
	@mkdir -p $(@D)
	@echo '$(WINCFLAGS)' | cmp -s - $@ || echo '$(WINCFLAGS)' > $@
.PHONY: FORCE

build/windows/obj/%.o: src/%.c $(WINHDRS) build/windows/cflags | $(WINLUA)/lua.exe
	@mkdir -p $(@D)
	$(WINCC) $(WINCFLAGS) -c -o $@ $<

$(WINCORE): $(WINOBJS)
	@mkdir -p $(@D)
	$(WINCC) -shared -o $@ $(WINOBJS) $(WINLUA)/lua54.dll $(WINTLSLIBS) -lws2_32 -liphlpapi \
	  -static-libgcc -Wl,-Bstatic -lpthread -Wl,-Bdynamic

windows: windows-lua $(WINTLSDEP)
	@$(MAKE) --no-print-directory $(WINCORE)

# a plain Winsock program, netsock's peer in spec/windows/wspeer_spec.lua
build/windows/wspeer.exe: spec/windows/wspeer.c
	@mkdir -p $(@D)
	$(WINCC) $(OPT) $(WARN) $(STRICT) -o $@ $< -lws2_32

test-windows: windows
	@$(MAKE) --no-print-directory build/windows/wspeer.exe
	@WINE="$(WINE)" WINLUA="$(WINLUA)" sh tools/windows-test $(WINSPECS)

windows-test: test-windows
# }======
