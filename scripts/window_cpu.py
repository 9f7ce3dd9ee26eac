#!/usr/bin/env python3
"""Where the CPU of a release benchmark's rounds goes (issue 5; bench/README.md, "Release").

Cuts `perf record -a` samples to each round's window, from the probe's mark to the N-th document
closed at the device (lpm_spool_probe's lines, CLOCK_MONOTONIC ns), and sums them by process, by
process and library, and by symbol, in milliseconds of CPU per round.

    perf record -a -k CLOCK_MONOTONIC -F 2000 -o perf.data -- \\
        env KEEP=1 SERIES=ws WS_ROUNDS=20 scripts/bench_release.sh build
    perf script -i perf.data -F comm,pid,tid,time,ip,sym,dso > perf.txt
    scripts/window_cpu.py --probe /tmp/lpm-bench-release.XXXXXX/probe.out --perf perf.txt \\
        --label wsfile --files 10 --hz 2000

`-k CLOCK_MONOTONIC` puts perf's times on the probe's clock; KEEP=1 keeps the bench's folder (and
its probe.out). A process named `swapper` is an idle core.
"""
import argparse
import bisect
import collections
import re
import statistics
import sys

SAMPLE = re.compile(r"\s*(.+?)\s+(\d+)/(\d+)\s+(\d+\.\d+):\s+[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)\s*$")


def windows(probe_path, label, files, max_ms):
    """[(start_ns, end_ns)] of the rounds marked `label` whose `files`-th document closed."""
    found, start, seen = [], None, 0
    with open(probe_path) as probe:
        for line in probe:
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "mark":
                start, seen = (int(parts[0]) if parts[2] == label else None), 0
            elif start is not None and len(parts) >= 2 and parts[1].startswith("/"):
                if parts[1].endswith(".part"):
                    continue  # the file device's file before its rename: not at the device yet
                seen += 1
                if seen == files:
                    if max_ms is None or int(parts[0]) - start <= max_ms * 1e6:
                        found.append((start, int(parts[0])))
                    start = None
    return sorted(found)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--probe", required=True, help="lpm_spool_probe's output (probe.out)")
    ap.add_argument("--perf", required=True, help="`perf script -F comm,pid,tid,time,ip,sym,dso` output")
    ap.add_argument("--label", default="wsfile", help="the rounds' mark (ws, wsfile, ...)")
    ap.add_argument("--files", type=int, default=10, help="documents that end a round")
    ap.add_argument("--hz", type=float, default=2000, help="perf's sampling frequency (-F)")
    ap.add_argument("--max-ms", type=float, help="leave out rounds longer than this")
    ap.add_argument("--top", type=int, default=30, help="symbols listed")
    args = ap.parse_args()

    wins = windows(args.probe, args.label, args.files, args.max_ms)
    if not wins:
        sys.exit(f"window_cpu: no round marked {args.label!r} with {args.files} documents in {args.probe}")
    starts = [w[0] for w in wins]
    procs, libs, syms = collections.Counter(), collections.Counter(), collections.Counter()
    total = unparsed = 0
    with open(args.perf) as perf:
        for line in perf:
            m = SAMPLE.match(line)
            if not m:
                unparsed += 1
                continue
            t = round(float(m.group(4)) * 1e9)
            i = bisect.bisect_right(starts, t) - 1
            if i < 0 or t > wins[i][1]:
                continue
            proc = re.sub(r"\d+$", "", m.group(1))  # agent1 ... agent9 as one
            lib = m.group(6).rsplit("/", 1)[-1]
            total += 1
            procs[proc] += 1
            libs[(proc, lib)] += 1
            syms[(proc, m.group(5)[:80], lib)] += 1
    if total == 0:
        sys.exit("window_cpu: no sample inside the rounds: was perf run with -a -k CLOCK_MONOTONIC?")

    lengths = [(b - a) / 1e6 for a, b in wins]
    per_round = 1000.0 / args.hz / len(wins)  # ms of CPU per round, per sample
    print(f"rounds {len(wins)}: window p50 {statistics.median(lengths):.1f} ms, "
          f"mean {statistics.mean(lengths):.1f} ms; CPU {total * per_round:.1f} ms a round "
          f"(idle cores included as swapper), {total} samples")

    def table(title, counter, limit):
        print(f"--- {title}: ms a round, share")
        for key, n in counter.most_common(limit):
            name = " | ".join(key) if isinstance(key, tuple) else key
            print(f"{n * per_round:7.2f} {100.0 * n / total:5.1f}%  {name}")

    table("process", procs, 20)
    table("process | library", libs, 25)
    table("process | symbol | library", syms, args.top)
    if unparsed:
        print(f"({unparsed} lines of {args.perf} not read as samples)", file=sys.stderr)


if __name__ == "__main__":
    main()
