# nginx live dubbing module: build, test, run.
#
#   make          build build/ngx_rtmp_dub_module.so against Debian's nginx
#   make test     every test: unit, style, end to end, sanitizer
#   make run      nginx with conf/nginx.conf: push, play, dubbed
#
# Each target installs what it needs (scripts/setup.sh) and is quick
# when there is nothing to do.

SHELL := /bin/bash

B       := build
SO      := $(B)/ngx_rtmp_dub_module.so
ASAN    := $(B)/asan/nginx
SRCS    := $(wildcard src/*.c src/*.h) config
PURE    := src/dub_flv.c src/dub_time.c src/dub_segment.c
UNITS   := $(patsubst t/unit/%.c,$(B)/unit/%,$(wildcard t/unit/test_*.c))
JOBS    ?= 6

UNIT_CFLAGS := -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
               -Wall -Wextra -Werror -Isrc -It/unit

.PHONY: all setup deps unit fixtures asan test check run clean

all: $(SO)

setup:
	@scripts/setup.sh

$(SO): $(SRCS) scripts/build.sh | setup
	@scripts/build.sh

$(B)/unit/%: t/unit/%.c $(PURE) $(wildcard src/dub_*.h) t/unit/tap.h
	@mkdir -p $(B)/unit
	gcc $(UNIT_CFLAGS) -o $@ $< $(PURE)

unit: $(UNITS)

fixtures: | setup
	@fixtures/gen.sh

$(ASAN): $(SRCS) scripts/build-asan.sh | setup
	@scripts/build-asan.sh

asan: $(ASAN)

check:
	@scripts/check-style.pl
	@scripts/check-docs.pl

test: all unit fixtures asan
	prove -j$(JOBS) t/

run: all fixtures
	@scripts/run.sh

clean:
	rm -rf $(B)/unit $(B)/nginx-dev $(B)/asan $(SO)
