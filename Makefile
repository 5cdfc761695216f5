# pvnet - accelerated paravirtual networking in Linux user space.
#
#   make            build everything (installs missing dependencies first)
#   make check      run all tests; ends with "N passed, N failed, N skipped"
#   make demo       a host, two guests and an external host, traffic, a migration, a report
#   make bench      benchmarks beside their baselines (figures, not asserted)
#   make asan       build and run the tests under AddressSanitizer + UBSan
#   make install    programs, man pages and systemd units (PREFIX, DESTDIR)
#   make clean
#
# WERROR=1 adds -Werror (CI sets it).  Objects go to build/ (build-asan/
# for the sanitizer build).

CC       ?= cc
BUILD    ?= build
WERROR   ?=
CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter \
	-O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -pthread \
	-Iinclude -Isrc
CFLAGS   ?=
ALL_CFLAGS := $(CFLAGS_BASE) $(if $(WERROR),-Werror) $(CFLAGS)
LDFLAGS  ?=
LDLIBS   := -pthread

LIB_SRCS   := $(wildcard src/lib/*.c)
HV_SRCS    := $(wildcard src/hv/*.c)
GUEST_SRCS := $(wildcard src/guest/*.c)
BACK_SRCS  := $(wildcard src/back/*.c)
FRONT_SRCS := $(wildcard src/front/*.c)
ACCEL_SRCS := $(wildcard src/accel/*.c)
NIC_SRCS   := $(wildcard src/nic/*.c)
BROKER_SRCS := $(wildcard src/broker/*.c)
USER_SRCS  := $(wildcard src/libpvnet/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

# libpvnet's TCP (src/libpvnet/tcp.c) is Debian's lwIP: its headers for that
# file alone, the library linked only where it is used (--as-needed).
LWIP_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags lwip 2>/dev/null || echo -I/usr/include/lwip))
LWIP_LIBS   := -Wl,--as-needed -llwip -Wl,--no-as-needed
$(BUILD)/src/libpvnet/tcp.o $(BUILD)/pic/src/libpvnet/tcp.o $(BUILD)/tests/unit/test_libpvnet_tcp.o: \
	ALL_CFLAGS += $(LWIP_CFLAGS)

LIBPV    := $(BUILD)/libpvnet-common.a
LIBHV    := $(BUILD)/libpvnet-hv.a
LIBGUEST := $(BUILD)/libpvnet-guest.a
LIBBACK  := $(BUILD)/libpvnet-back.a
LIBFRONT := $(BUILD)/libpvnet-front.a
LIBACCEL := $(BUILD)/libpvnet-accel.a
LIBNIC   := $(BUILD)/libpvnet-nic.a
LIBBROKER := $(BUILD)/libpvnet-broker.a
# libpvnet.a, the applications' library (include/pvnet/libpvnet.h): self-
# contained, with the VI user's side of nic_client and the socket helpers.
LIBUSER  := $(BUILD)/libpvnet.a
USER_OBJS := $(call obj,$(USER_SRCS) src/nic/nic_client.c src/lib/unix.c src/lib/seqpacket_call.c)
# ... and libpvnet.so, the same sources built position-independent,
# exporting pvnet_* only (src/libpvnet/libpvnet.map).
LIBUSER_SO := $(BUILD)/libpvnet.so
PRELOAD_SO := $(BUILD)/lib/libpvnet-preload.so
USER_PIC_OBJS := $(patsubst %.c,$(BUILD)/pic/%.o,$(USER_SRCS) src/nic/nic_client.c src/lib/unix.c \
	src/lib/seqpacket_call.c)

# One binary per main in src/cmd/ (src/back, src/front, src/nic are libraries).
BINS := $(patsubst src/cmd/%.c,$(BUILD)/%,$(wildcard src/cmd/*.c))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/test_*.c))
TEST_HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(wildcard tests/helpers/*.c))

DEPS_STAMP := $(BUILD)/.deps-ok

all: $(DEPS_STAMP) $(BINS) $(UNIT_TESTS) $(TEST_HELPERS) $(LIBUSER_SO) $(PRELOAD_SO)

# Install what a fresh machine lacks (apt, as root); re-run when the list changes.
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	scripts/deps.sh
	@touch $@

deps:
	scripts/deps.sh

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Archives are made anew (rm first): ar rcs alone keeps members whose
# source went away (a file moved to another library), which then link twice.
$(LIBPV): $(call obj,$(LIB_SRCS))
	rm -f $@ && $(AR) rcs $@ $^
$(LIBHV): $(call obj,$(HV_SRCS))
	rm -f $@ && $(AR) rcs $@ $^
$(LIBGUEST): $(call obj,$(GUEST_SRCS))
	rm -f $@ && $(AR) rcs $@ $^
$(LIBBACK): $(call obj,$(BACK_SRCS))
	rm -f $@ && $(AR) rcs $@ $^
$(LIBFRONT): $(call obj,$(FRONT_SRCS))
	rm -f $@ && $(AR) rcs $@ $^
$(LIBACCEL): $(call obj,$(ACCEL_SRCS))
	rm -f $@ && $(AR) rcs $@ $^
$(LIBNIC): $(call obj,$(NIC_SRCS))
	rm -f $@ && $(AR) rcs $@ $^
$(LIBBROKER): $(call obj,$(BROKER_SRCS))
	rm -f $@ && $(AR) rcs $@ $^
$(LIBUSER): $(USER_OBJS)
	rm -f $@ && $(AR) rcs $@ $^
$(BUILD)/pic/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -c $< -o $@
$(LIBUSER_SO): $(USER_PIC_OBJS) src/libpvnet/libpvnet.map
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libpvnet.so.1 \
		-Wl,--version-script=src/libpvnet/libpvnet.map -o $@.1 $(USER_PIC_OBJS) $(LDLIBS) -llwip
	ln -sf libpvnet.so.1 $@

# libpvnet-preload.so (src/preload/, libpvnet-preload(7)): LD_PRELOAD for
# unmodified programs, libpvnet's PIC objects inside, the socket calls it
# takes over exported and nothing else (src/preload/preload.map).
$(PRELOAD_SO): $(BUILD)/pic/src/preload/preload.o $(USER_PIC_OBJS) src/preload/preload.map
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,--version-script=src/preload/preload.map \
		-o $@ $(BUILD)/pic/src/preload/preload.o $(USER_PIC_OBJS) $(LDLIBS) -llwip -ldl

# libpvnet-accel (accelerator plugins) first: it calls into the hosts in back/ and front/.
# libpvnet.a's copies of nic_client.o, unix.o, seqpacket_call.o are the same
# objects as in libpvnet-nic.a and libpvnet-common.a: whichever the linker
# takes first, the other's member is never pulled.
ALL_LIBS := $(LIBACCEL) $(LIBBACK) $(LIBHV) $(LIBFRONT) $(LIBGUEST) $(LIBBROKER) $(LIBUSER) \
	$(LIBNIC) $(LIBPV)

# The programs: src/cmd/<name>.c is <name>'s main, over the libraries.
$(BINS): $(BUILD)/%: $(BUILD)/src/cmd/%.o $(ALL_LIBS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(HOST_LDFLAGS) -o $@ $(filter-out %.dynlist,$^) $(LDLIBS) $(LWIP_LIBS)
# pvnetd alone serves HTTP (--metrics, src/back/metrics.c): libmicrohttpd.
$(BUILD)/pvnetd: LDLIBS += -lmicrohttpd
# pvnetctl capture -w writes pcap files with libpcap's pcap_dump.
$(BUILD)/pvnetctl: LDLIBS += -lpcap
# The hosts of accelerator plugins export accel.h's functions, and only those
# (not in LDFLAGS: make asan sets that on the command line).
$(BUILD)/pvnetd $(BUILD)/pvnet-front: HOST_LDFLAGS := -Wl,--dynamic-list=src/accel/host.dynlist
$(BUILD)/pvnetd $(BUILD)/pvnet-front: src/accel/host.dynlist

# The pvnic pair as a loadable plugin (accel.h's struct pv_accel_plugin):
# compiled against include/ and a view of src/ holding only the plugin's
# own directory and the library code it links private, hidden copies of
# (lib/, nic/, guest/xsc.h): no back/, front/, hv/ or guest/guest.h.
ACCEL_SO := $(BUILD)/lib/pvnet-accel-pvnic.so
ACCEL_SO_INC := $(BUILD)/accel-inc
ACCEL_SO_SRCS := $(wildcard src/accel/pvnic_*.c) src/nic/nic_client.c src/nic/txrule.c \
	src/guest/xsc.c src/lib/log.c src/lib/pkt.c src/lib/srcguard.c src/lib/storm.c src/lib/unix.c \
	src/lib/seqpacket_call.c
ACCEL_SO_OBJS := $(patsubst %.c,$(BUILD)/accel-so/%.o,$(ACCEL_SO_SRCS))
ACCEL_SO_CFLAGS := $(filter-out -Isrc,$(ALL_CFLAGS)) -I$(ACCEL_SO_INC) -fPIC -fvisibility=hidden \
	-DPVNET_ACCEL_SHARED
$(ACCEL_SO_INC)/.ok:
	@mkdir -p $(ACCEL_SO_INC)/guest
	ln -sfn $(CURDIR)/src/accel $(ACCEL_SO_INC)/accel
	ln -sfn $(CURDIR)/src/lib $(ACCEL_SO_INC)/lib
	ln -sfn $(CURDIR)/src/nic $(ACCEL_SO_INC)/nic
	ln -sf $(CURDIR)/src/guest/xsc.h $(ACCEL_SO_INC)/guest/xsc.h
	@touch $@
$(BUILD)/accel-so/%.o: %.c $(ACCEL_SO_INC)/.ok
	@mkdir -p $(dir $@)
	$(CC) $(ACCEL_SO_CFLAGS) -MMD -MP -c $< -o $@
$(ACCEL_SO): $(ACCEL_SO_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ACCEL_SO_CFLAGS) $(LDFLAGS) -shared -o $@.tmp $(ACCEL_SO_OBJS) $(LDLIBS)
	@# What it takes from its host is accel.h's functions, nothing else
	@# (versioned symbols are libc's; __* the compiler's runtime, e.g. ASan's).
	@nm -D --undefined-only $@.tmp | awk '$$1 == "U" && $$2 !~ /@/ && $$2 !~ /^(pv_accel_|__)/ \
		{ print "$@: needs " $$2 " from its host: not in accel.h"; bad = 1 } END { exit bad }'
	mv $@.tmp $@
# Plugins the tests must see refused (tests/plugins/): include/ only.
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(wildcard tests/plugins/*.c))
$(BUILD)/tests/plugins/%.so: tests/plugins/%.c include/pvnet/accel.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Isrc,$(ALL_CFLAGS)) -fPIC -shared -o $@ $<
all: $(ACCEL_SO) $(TEST_PLUGINS)

$(BUILD)/tests/unit/%: $(call obj,tests/unit/%.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(LWIP_LIBS)

$(BUILD)/tests/helpers/%: $(call obj,tests/helpers/%.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(LWIP_LIBS)

check: all
	PVNET_BUILD=$(BUILD) tests/run.sh

demo: all
	PVNET_BUILD=$(BUILD) scripts/demo.sh

bench: all
	PVNET_BUILD=$(BUILD) bench/run.sh

ASAN_VARS = BUILD=build-asan CC=clang \
	CFLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -U_FORTIFY_SOURCE" \
	LDFLAGS="-fsanitize=address,undefined"

asan:
	$(MAKE) $(ASAN_VARS) check

asan-build:
	$(MAKE) $(ASAN_VARS) all

clean:
	rm -rf build build-asan

# make install [PREFIX=/usr/local] [DESTDIR=]: the daemons and pvnetctl in
# SBINDIR, pvnet-bench in BINDIR, libpvnet (static, shared, its header) and
# libpvnet-preload.so in LIBDIR and INCLUDEDIR, man pages, and the systemd units (systemd/, their
# /usr/local/sbin rewritten to SBINDIR) in UNITDIR.
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install
SBIN_PROGS := pvnetd pvnet-nicd pvnet-front pvnetctl pvnet-broker
BIN_PROGS  := pvnet-bench
UNITS      := $(wildcard systemd/*.service)

install: $(addprefix $(BUILD)/,$(SBIN_PROGS) $(BIN_PROGS)) $(BUILD)/libpvnet.a $(BUILD)/libpvnet.so.1 \
		$(PRELOAD_SO) $(ACCEL_SO)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(SBIN_PROGS)) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(BIN_PROGS)) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 $(wildcard docs/*.8) $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(wildcard docs/*.1) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/pvnet
	$(INSTALL) -m 0644 $(wildcard docs/*.3) $(DESTDIR)$(MANDIR)/man3/
	$(INSTALL) -m 0644 $(BUILD)/libpvnet.a $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 0755 $(BUILD)/libpvnet.so.1 $(DESTDIR)$(LIBDIR)/
	ln -sf libpvnet.so.1 $(DESTDIR)$(LIBDIR)/libpvnet.so
	$(INSTALL) -m 0755 $(PRELOAD_SO) $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man7
	$(INSTALL) -m 0644 $(wildcard docs/*.7) $(DESTDIR)$(MANDIR)/man7/
	$(INSTALL) -m 0644 include/pvnet/libpvnet.h include/pvnet/nic.h $(DESTDIR)$(INCLUDEDIR)/pvnet/
	$(INSTALL) -m 0644 include/pvnet/accel.h $(DESTDIR)$(INCLUDEDIR)/pvnet/
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)/pvnet/accel
	$(INSTALL) -m 0755 $(ACCEL_SO) $(DESTDIR)$(LIBDIR)/pvnet/accel/
	for u in $(UNITS); do \
		sed 's|/usr/local/sbin/|$(SBINDIR)/|g' $$u >$(DESTDIR)$(UNITDIR)/$${u#systemd/} && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u#systemd/} || exit 1; \
	done

.PHONY: all deps check demo bench asan asan-build clean lint install
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# libFuzzer harnesses (clang): `make fuzz` builds build-fuzz/<name> from each
# tests/fuzz/<name>.c; how to run them is in tests/fuzz/README.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -Iinclude -Isrc
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/*.c))
fuzz: $(FUZZ_BINS)
# Sources a harness links besides src/lib (those it #includes are left out).
FUZZ_SRCS_fuzz_hvsock     := $(filter-out src/hv/hvsock.c,$(HV_SRCS))
# (metrics.c left out: it is pvnetd's HTTP server, over libmicrohttpd and the pvnic backend.)
FUZZ_SRCS_fuzz_netback_tx := $(HV_SRCS) $(GUEST_SRCS) $(filter-out src/back/metrics.c,$(BACK_SRCS)) $(NIC_SRCS)
build-fuzz/fuzz_hvsock: $(FUZZ_SRCS_fuzz_hvsock) src/hv/hvsock.c
build-fuzz/fuzz_netback_tx: $(FUZZ_SRCS_fuzz_netback_tx) tests/unit/netback_harness.h tests/lib/host.h tests/lib/tfront.h
FUZZ_SRCS_fuzz_netback_rx := $(FUZZ_SRCS_fuzz_netback_tx)
build-fuzz/fuzz_netback_rx: $(FUZZ_SRCS_fuzz_netback_rx) tests/unit/netback_harness.h tests/lib/host.h tests/lib/tfront.h \
	tests/lib/host_inline.h
# Its host runs inline, in the fuzzer's thread: the guest library's blocking
# calls run the loop (tests/lib/host_inline.h).
FUZZ_LDFLAGS_fuzz_netback_rx := -Wl,--wrap=poll,--wrap=recv,--wrap=recvmsg
build-fuzz/fuzz_xs: src/hv/xs.c src/hv/xs_proto.c src/hv/xs_store.c src/hv/xs_priv.h
FUZZ_SRCS_fuzz_libpvnet_rx := src/libpvnet/vi.c src/libpvnet/neigh.c src/nic/nic_client.c
build-fuzz/fuzz_libpvnet_rx: src/libpvnet/udp.c $(FUZZ_SRCS_fuzz_libpvnet_rx)
# pvnic_back.c's parsers; the rest of the file needs these to link.
FUZZ_SRCS_fuzz_pvnic_back := src/accel/pvnic_back.c src/accel/host_loop.c $(HV_SRCS) $(filter-out src/back/metrics.c,$(BACK_SRCS)) \
	$(NIC_SRCS)
build-fuzz/fuzz_pvnic_back: $(FUZZ_SRCS_fuzz_pvnic_back) src/accel/pvnic_back.h
# txcheck.c and vi.c, #included by the NIC harnesses, call txrule.c (the shared
# TX rule) and rxhold.c (the RX hold).
FUZZ_SRCS_fuzz_nic_ctl    := src/nic/txrule.c src/nic/rxhold.c
FUZZ_SRCS_fuzz_nic_vi     := src/nic/txrule.c src/nic/rxhold.c
build-fuzz/fuzz_nic_ctl build-fuzz/fuzz_nic_vi: $(filter-out src/nic/nic_client.c,$(NIC_SRCS))
build-fuzz/%: tests/fuzz/%.c $(LIB_SRCS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRCS_$*) $(LIB_SRCS) $(FUZZ_LDFLAGS_$*) -pthread
# Every harness for FUZZ_SECS seconds each (default 300), nice'd, one at a
# time: executions, exec/s and findings per harness (tests/fuzz/long.sh).
fuzz-long: fuzz
	tests/fuzz/long.sh
clean-fuzz:
	rm -rf build-fuzz
clean: clean-fuzz
.PHONY: fuzz fuzz-long clean-fuzz

# Static analysis over src/ (cppcheck, Debian's package): warnings,
# portability and performance; a finding fails the build.  A false
# positive is suppressed where it stands, with the reason
# ("cppcheck-suppress ID ; why").
CPPCHECK_FLAGS := --quiet --error-exitcode=1 --enable=warning,portability,performance \
	--inline-suppr --std=c11 -Iinclude -Isrc --suppress=missingIncludeSystem \
	-D__GNUC__ -D__linux__

lint: $(DEPS_STAMP)
	cppcheck $(CPPCHECK_FLAGS) -j$(shell nproc) src/
