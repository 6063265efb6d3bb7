#!/usr/bin/env bash
# asan.sh (npm run test:asan): builds native/ with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ (never build/: the normal binary stays as it is), runs the native-facing test files
# against that binary, and fails when a sanitizer report points into native/.
#
#   scripts/asan.sh [--ci] [--no-build] [test files...]
#     --ci        CI (.ci/run): the test files only, without the longer fuzz run that follows them
#                 otherwise (ASAN_FUZZ_COUNT mutated models, 2,000 by default, seed printed)
#     --no-build  use build-asan/ as it is
#
# How the pieces fit:
# - node is not instrumented, so libasan is LD_PRELOADed into it (ASan must come first), and vitest's
#   forked workers and every process a test spawns inherit the environment.
# - ORT_NAPI_PREBUILD=build-asan is node-gyp-build's own override: it then loads
#   build-asan/build/Release/ort_napi.node instead of build/Release or prebuilds/ (no change to
#   lib/binding.ts needed); a check below proves that binary is the one loaded.
# - detect_leaks=0: V8 and ONNX Runtime keep allocations until exit by design (isolates, the ORT
#   environment, thread pools, the arena), so LeakSanitizer would report those, not our bugs.
# - allocator_may_return_null=1: a huge allocation fails as with glibc (ONNX Runtime then reports
#   it) instead of ending the process; handle_sigfpe=0: an integer division by zero stays a SIGFPE,
#   so fuzz.mjs still recognises ONNX Runtime's known Conv group=0 crash.
# - ASan writes its reports to $LOGDIR/asan.<pid> (log_path), children's included; UBSan writes to
#   stderr, captured in $LOGDIR/vitest.log and fuzz.log. scripts/asan-report.mjs sorts them: native/ (ours),
#   ONNX Runtime, elsewhere. Only native/ reports, and test failures, fail the run.
#
# Left out or filtered, because ASan changes what they measure rather than finding anything:
# - tests that assert RSS bounds (57's and 76's "... RSS stays flat"; 65.leak whole, both its tests
#   do): ASan's quarantine (freed memory held back to catch use-after-free), redzones and shadow
#   memory grow RSS by design. What 65 runs (many runs, failed runs, released sessions) 30/40/60/75
#   run here too.
# - 00/80/81/90/95/96/98: loading paths, packaging, arm64, README, types, CLI, CUDA: no native code
#   beyond what the files run here cover, and several spawn npm, tsc or a compiler.
# Of 76.pool-load only "worker threads each run their own pool" runs (its other test is an RSS one).
# The v2 server's files run here too: their servers, in the test's process or spawned (`ort-napi
# serve`, its cluster workers), inherit the environment and load the instrumented binary, so the
# native JSON reader, batched pools under network load, hostile requests (97.server.fuzz) and
# teardown with runs in flight (SIGTERM draining, workers killed mid-run) run under the sanitizers.
# curl, their independent client, is started without the preload (it hangs with libasan in it).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CI=0
BUILD=1
FILES=()
for arg in "$@"; do
  case "$arg" in
    --ci) CI=1 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "asan: unknown option $arg" >&2; exit 2 ;;
    *) FILES+=("$arg") ;;
  esac
done

ALL_FILES=(
  test/10.tensor.test.ts test/12.env.test.ts
  test/20.session.create.test.ts test/25.session.options.test.ts test/26.huge-pages.test.ts test/27.providers.test.ts
  test/30.session.run.test.ts test/32.values.test.ts test/40.errors.test.ts test/45.hardening.test.ts
  test/50.concurrency.test.ts test/52.inline.test.ts test/53.wait-awake.test.ts test/55.abort.test.ts test/57.io-binding.test.ts
  test/60.lifetime.test.ts test/62.gc-warning.test.ts test/70.worker.test.ts
  test/75.pool.test.ts test/76.pool-load.test.ts test/77.pool-hardening.test.ts
  test/85.fuzz.test.ts test/86.json.test.ts test/99.conformance.test.ts
  test/97.server.http.test.ts test/97.server.grpc.test.ts test/97.server.fuzz.test.ts test/97.server.ops.test.ts
  test/97.server.workers.test.ts test/97.server.metrics.test.ts test/97.server.deploy.test.ts
)
[ ${#FILES[@]} -eq 0 ] && FILES=("${ALL_FILES[@]}")
# Without --ci, a longer fuzz run follows the tests, under the sanitizers too.
FUZZ_COUNT=${ASAN_FUZZ_COUNT:-2000}
# Test names left out (see above).
EXCLUDE='RSS'

CXX_BIN=${CXX:-g++}
ASAN_LIB=$("$CXX_BIN" -print-file-name=libasan.so)
if [ ! -e "$ASAN_LIB" ] || [ "$ASAN_LIB" = libasan.so ]; then
  echo "asan: $CXX_BIN has no libasan.so (apt-get install libasan8, or gcc's full package)" >&2
  exit 2
fi
LOGDIR=${ASAN_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/ort-napi-asan.XXXXXX")}
mkdir -p "$LOGDIR"
rm -f "$LOGDIR"/asan.* "$LOGDIR"/vitest.log "$LOGDIR"/fuzz.log "$LOGDIR"/summary.json
STARTED=$(date +%s)

if [ $BUILD = 1 ]; then
  echo "asan: building native/ with -fsanitize=address,undefined into build-asan/ (log: $LOGDIR/build.log)"
  if [ -f scripts/build.mjs ]; then
    BUILD_CMD=(node scripts/build.mjs --sanitize --out build-asan/build)
  else
    BUILD_CMD=(node node_modules/cmake-js/bin/cmake-js build --out build-asan/build --CDORT_NAPI_SANITIZE=ON --parallel "$(nproc 2>/dev/null || echo 2)")
  fi
  if ! "${BUILD_CMD[@]}" >"$LOGDIR/build.log" 2>&1; then
    tail -40 "$LOGDIR/build.log"
    echo "asan: FAILED: the sanitizer build failed"
    exit 1
  fi
  echo "asan: built in $(( $(date +%s) - STARTED )) s"
fi
ADDON=$ROOT/build-asan/build/Release/ort_napi.node
if [ ! -f "$ADDON" ]; then
  echo "asan: no $ADDON: run without --no-build" >&2
  exit 2
fi
node node_modules/typescript/bin/tsc -p tsconfig.build.json || { echo "asan: FAILED: tsc (dist/) failed"; exit 1; }

export ORT_NAPI_PREBUILD=$ROOT/build-asan
# The sanitizer environment, with ASan's reports going to $1/asan.<pid>.
asan_env() {
  ASAN_ENV=(
    "LD_PRELOAD=$ASAN_LIB${LD_PRELOAD:+:$LD_PRELOAD}"
    "ASAN_OPTIONS=detect_leaks=0:log_path=$1/asan:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1:handle_sigfpe=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  )
}
# vitest on the given files, output to $1/vitest.log (and, unless $2 is quiet, the terminal).
run_vitest() {
  local dir=$1 mode=$2
  shift 2
  asan_env "$dir"
  # Test names matching EXCLUDE are left out; vitest's -t takes a regular expression.
  if [ "$mode" = quiet ]; then
    env "${ASAN_ENV[@]}" node node_modules/vitest/vitest.mjs run "$@" -t "^(?!.*(${EXCLUDE})).*\$" >"$dir/vitest.log" 2>&1
  else
    env "${ASAN_ENV[@]}" node node_modules/vitest/vitest.mjs run "$@" -t "^(?!.*(${EXCLUDE})).*\$" 2>&1 | tee "$dir/vitest.log"
    return "${PIPESTATUS[0]}"
  fi
}
native_reports() { node -p "require(process.argv[1]).native" "$1/summary.json" 2>/dev/null || echo '?'; }

# The instrumented binary is the one the package loads, with libasan in the process.
asan_env "$LOGDIR"
env "${ASAN_ENV[@]}" node -e "
  require('ort-napi').env.versions;
  const libs = process.report.getReport().sharedObjects;
  const want = process.argv[1];
  if (!libs.includes(want)) { console.error('loaded ' + (libs.find((l) => l.endsWith('.node')) || 'no addon') + ', not ' + want); process.exit(1); }
  if (!libs.some((l) => /libasan\.so/.test(l))) { console.error('libasan is not loaded'); process.exit(1); }
" "$ADDON" 2>&1 | tee "$LOGDIR/vitest.log"
if [ "${PIPESTATUS[0]}" != 0 ]; then
  node scripts/asan-report.mjs "$LOGDIR"
  echo "asan: FAILED: the package does not load $ADDON cleanly under the sanitizers"
  exit 1
fi

echo "asan: running ${#FILES[@]} test files against $ADDON (reports: $LOGDIR)"
run_vitest "$LOGDIR" tee "${FILES[@]}"
TESTS_RC=$?

FUZZ_RC=0
if [ $CI = 0 ] && [ "$FUZZ_COUNT" -gt 0 ]; then
  FUZZ_SEED=${ASAN_FUZZ_SEED:-$(( (RANDOM << 15 | RANDOM) ))}
  echo
  echo "asan: fuzz, $FUZZ_COUNT mutated models under the sanitizers, seed $FUZZ_SEED"
  asan_env "$LOGDIR"
  env "${ASAN_ENV[@]}" node scripts/fuzz.mjs --seed "$FUZZ_SEED" --count "$FUZZ_COUNT" --max-seconds 300 2>&1 | tee "$LOGDIR/fuzz.log"
  FUZZ_RC=${PIPESTATUS[0]}
fi

echo
echo "==================== ASan + UBSan summary ===================="
node scripts/asan-report.mjs "$LOGDIR"
REPORT_RC=$?
if [ $REPORT_RC -ne 0 ] && [ ${#FILES[@]} -gt 1 ]; then
  # Which files: ASan names processes, not tests, so each file runs again alone.
  echo
  echo "asan: which test files give the native/ reports (each run again alone):"
  for file in "${FILES[@]}"; do
    dir=$LOGDIR/per-file/$(basename "$file" .test.ts)
    mkdir -p "$dir"
    run_vitest "$dir" quiet "$file"
    node scripts/asan-report.mjs "$dir" >/dev/null
    echo "  $file: $(native_reports "$dir") in native/ (reports: $dir)"
  done
fi
# shellcheck disable=SC2001
RESULTS=$(sed 's/\x1b\[[0-9;]*m//g' "$LOGDIR/vitest.log" | grep -E '^\s+(Test Files|Tests)\s' | sed 's/^ */  /')
echo
echo "files run (${#FILES[@]}): ${FILES[*]}"
echo "left out by name: /${EXCLUDE}/"
echo "${RESULTS:-  (vitest printed no totals)}"
if [ $CI = 0 ] && [ "$FUZZ_COUNT" -gt 0 ]; then
  echo "fuzz: $(grep -E '^fuzz: seed [0-9]+: ' "$LOGDIR/fuzz.log" | tail -1 | sed 's/^fuzz: //')"
  echo "      $(grep -E '^fuzz: [0-9]+ crashes' "$LOGDIR/fuzz.log" | tail -1 | sed 's/^fuzz: //')"
fi
echo "binary: $ADDON"
echo "reports: $LOGDIR (asan.<pid> files, vitest.log, summary.json)"
echo "took $(( $(date +%s) - STARTED )) s"
if [ $REPORT_RC -ne 0 ]; then
  echo "asan: FAILED: $(native_reports "$LOGDIR") sanitizer reports in native/ (above)"
  exit 1
fi
if [ "$FUZZ_RC" -ne 0 ]; then
  echo "asan: FAILED: the fuzz run under the sanitizers found crashes (seed $FUZZ_SEED; above)"
  exit 1
fi
if [ "$TESTS_RC" -ne 0 ]; then
  echo "asan: FAILED: tests failed under the sanitizers (exit $TESTS_RC), though no report points into native/"
  exit 1
fi
echo "asan: OK: 0 sanitizer reports in native/"
