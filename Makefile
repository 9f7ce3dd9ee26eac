# Everyday targets; ./bootstrap.sh is the front door on a fresh machine.
.PHONY: all build check demo bench soak fuzz format clean

all: build

build:
	@test -f build/build.ninja || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLPM_WERROR=ON
	cmake --build build

check:
	./bootstrap.sh check

demo:
	./bootstrap.sh demo

bench:
	./bootstrap.sh bench

# Hundreds of crash rounds of the agent's job store (scripts/soak.sh; not part of check).
soak: build
	scripts/soak.sh build

fuzz:
	scripts/fuzz.sh

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz
