# Everyday targets; ./bootstrap.sh is the front door on a fresh machine.
.PHONY: all build check demo bench bench-release bench-install bench-discovery debs soak fuzz format clean

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

# The release benchmark alone (issue 5: badge-in to the device against CUPS's own local release,
# scripts/bench_release.sh; needs root for its network namespace). Also part of `make bench`.
bench-release: build
	scripts/bench_release.sh build

# The install benchmark alone (issue 7: install.sh --root to the first held job,
# scripts/bench_install.sh; needs root for cupsd). Also part of `make bench`.
bench-install: build
	scripts/bench_install.sh build

# The discovery benchmark alone (issue 8: agent start to found on the LAN beside Avahi's own
# publish-to-browse, scripts/bench_discovery.sh; root, network namespaces). Also in `make bench`.
bench-discovery: build
	scripts/bench_discovery.sh build

# One Debian package per component (agent, directory, accounting, release station, cli) in
# build/debs/ (cmake/Packaging.cmake); `lpm package create --agent-deb` takes the agent's.
debs: build
	cmake --build build --target package

# Hundreds of crash rounds of the agent's job store (scripts/soak.sh; not part of check).
soak: build
	scripts/soak.sh build

fuzz:
	scripts/fuzz.sh

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-asan build-fuzz
