# nginx live dubbing module: build, test, run.
#
#   make          build build/ngx_rtmp_dub_module.so against Debian's nginx
#   make test     every test: unit, style, end to end, sanitizer
#   make run      nginx with conf/nginx.conf: push, play, dubbed
#   make deb      the Debian package build/libnginx-mod-rtmp-dub_*.deb
#
# Each target installs what it needs (scripts/setup.sh) and is quick
# when there is nothing to do.

SHELL := /bin/bash

B       := build
SO      := $(B)/ngx_rtmp_dub_module.so
ASAN    := $(B)/asan/nginx
SRCS    := $(wildcard src/*.c src/*.h) config
PURE    := $(wildcard src/dub_*.c)
UNITS   := $(patsubst t/unit/%.c,$(B)/unit/%,$(wildcard t/unit/test_*.c))
FUZZ    := $(patsubst t/fuzz/%.c,$(B)/fuzz/%,$(wildcard t/fuzz/fuzz_*.c))
TOOLS   := $(B)/tools/audio-probe $(B)/tools/cc-insert $(B)/tools/aac-coder
# the package's version is the module's (the one /metrics reports)
VERSION := $(shell sed -n 's/^\#define NGX_RTMP_DUB_VERSION *"\(.*\)"$$/\1/p' \
                   src/ngx_rtmp_dub_module.h)
DEB     := $(B)/libnginx-mod-rtmp-dub_$(VERSION)_$(shell dpkg --print-architecture).deb
JOBS    ?= 6

# tests that need a core to themselves run after the others, one at a time
SERIAL  := t/sts-local.t
PARALLEL = $(filter-out $(SERIAL),$(wildcard t/*.t))

LIBS     = $(shell pkg-config --libs libavcodec libavformat libavutil \
                   libswresample libavfilter yajl 2>/dev/null) -lm

UNIT_CFLAGS := -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
               -Wall -Wextra -Werror -Isrc -It/unit
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -Isrc
FUZZ_OBJ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -Isrc
UNIT_OBJS := $(patsubst src/%.c,$(B)/unit/obj/%.o,$(PURE))
FUZZ_OBJS := $(patsubst src/%.c,$(B)/fuzz/obj/%.o,$(PURE))

.PHONY: all setup setup-run setup-test setup-deb unit fuzz tools fixtures \
        asan sts deb test check run bench soak clean

all: $(SO)

# what each target installs: building needs the least
setup:
	@scripts/setup.sh build

setup-run:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

setup-deb:
	@scripts/setup.sh deb

$(SO): $(SRCS) scripts/build.sh | setup
	@scripts/build.sh

# the module's plain C, compiled once for all the unit tests, once for
# the fuzzers
$(B)/unit/obj/%.o: src/%.c $(wildcard src/dub_*.h) | setup
	@mkdir -p $(B)/unit/obj
	gcc $(UNIT_CFLAGS) -c -o $@ $<

$(B)/fuzz/obj/%.o: src/%.c $(wildcard src/dub_*.h) | setup-test
	@mkdir -p $(B)/fuzz/obj
	clang $(FUZZ_OBJ_CFLAGS) -c -o $@ $<

.SECONDARY: $(UNIT_OBJS) $(FUZZ_OBJS)

$(B)/unit/%: t/unit/%.c $(UNIT_OBJS) t/unit/tap.h | setup
	@mkdir -p $(B)/unit
	gcc $(UNIT_CFLAGS) -o $@ $< $(UNIT_OBJS) $(LIBS)

unit: $(UNITS)

$(B)/fuzz/%: t/fuzz/%.c $(FUZZ_OBJS) | setup-test
	@mkdir -p $(B)/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_OBJS) $(LIBS)

fuzz: $(FUZZ)

$(B)/tools/%: t/tools/%.c
	@mkdir -p $(B)/tools
	gcc -O2 -Wall -Wextra -Werror -o $@ $< -lm

# captions into an FLV file with the module's own caption layer
$(B)/tools/cc-insert: t/tools/cc-insert.c src/dub_cc608.c src/dub_sei.c \
                      src/dub_cc608.h src/dub_sei.h
	@mkdir -p $(B)/tools
	gcc -O2 -Wall -Wextra -Werror -Isrc -o $@ $< src/dub_cc608.c \
	    src/dub_sei.c

# the AAC coders' cost and sound on the module's audio path (the bench)
$(B)/tools/aac-coder: t/tools/aac-coder.c $(PURE) $(wildcard src/dub_*.h) \
                      | setup
	@mkdir -p $(B)/tools
	gcc -O2 -Wall -Wextra -Werror -Wno-deprecated-declarations -Isrc \
	    -o $@ $< $(PURE) $(LIBS)

tools: $(TOOLS)

fixtures: | setup-run
	@fixtures/gen.sh

$(ASAN): $(SRCS) scripts/build-asan.sh | setup-test
	@scripts/build-asan.sh

asan: $(ASAN)

$(DEB): $(SRCS) $(wildcard debian/* debian/*/*) conf/nginx.conf \
        $(wildcard docs/*) README.md scripts/deb.sh | setup-deb
	@scripts/deb.sh

deb: $(DEB)

check:
	@scripts/check-style.pl
	@scripts/check-docs.pl

test: setup-test all unit fuzz tools fixtures asan sts
	@export TEST_DUB_ALL=1; \
	prove -j$(JOBS) $(PARALLEL); a=$$?; \
	prove $(SERIAL); b=$$?; \
	exit $$(( a || b ))

run: setup-run all fixtures sts
	@scripts/run.sh

bench: setup-run all fixtures sts $(B)/tools/aac-coder
	@scripts/bench.pl $(STREAMS)

soak: setup-run all fixtures sts
	@scripts/soak.pl $(SOAK)

sts: | setup
	@scripts/setup-sts.sh

clean:
	rm -rf $(B)/unit $(B)/fuzz $(B)/tools $(B)/nginx-dev $(B)/asan $(SO) \
	       $(B)/deb $(B)/libnginx-mod-rtmp-dub_*.deb
