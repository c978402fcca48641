#!/usr/bin/env bash
# Runs the <tests> of the Galaxy tools against a real Galaxy on this machine.
#
# Installs PyPI `galaxy` into a venv (once), writes a Galaxy config for sqlite and the local job
# runner with the tools of galaxy/ in its tool panel, starts Galaxy on 127.0.0.1 with gunicorn
# (galaxy.webapps.galaxy.fast_factory:factory(); the `galaxy` launcher refuses root) with the mire2e
# binaries first on its PATH, runs galaxy-tool-test for each tool, prints a summary and stops Galaxy.
#
# Usage: galaxy/run-tests.sh [--bin DIR] [--models DIR] [--port N] [--keep] [TOOL_ID...]
#   --bin DIR     where mire2e-window, ... are (default: target/release of this checkout; build it
#                 with `cargo build --release --workspace`)
#   --models DIR  a folder holding model bundles, passed to Galaxy's jobs as $MIRE2E_MODELS (the
#                 model tools' tests use `--model default`, i.e. DIR/default). Without it the
#                 binaries look for the bundle installed beside them or in the checkout's models/.
#   --port N      port on 127.0.0.1 (default 8089)
#   --keep        leave Galaxy running afterwards (stop it with: kill $(cat $MIRE2E_GALAXY_DIR/galaxy.pid))
#   TOOL_ID...    tools to test (default: every mire2e_*.xml in galaxy/)
# Environment: MIRE2E_GALAXY_VENV (default ~/.cache/mire2e/galaxy-venv),
#              MIRE2E_GALAXY_DIR (default ~/.cache/mire2e/galaxy-run: config, database, logs, results)
# Exit status: 0 when every test that ran passed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
venv=${MIRE2E_GALAXY_VENV:-$HOME/.cache/mire2e/galaxy-venv}
run=${MIRE2E_GALAXY_DIR:-$HOME/.cache/mire2e/galaxy-run}
bin=$repo/target/release models='' port=8089 keep=false tools=()
while [ $# -gt 0 ]; do
    case $1 in
        --bin) bin=$(cd "$2" && pwd); shift 2 ;;
        --models) models=$(cd "$2" && pwd); shift 2 ;;
        --port) port=$2; shift 2 ;;
        --keep) keep=true; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run-tests.sh: unknown option $1" >&2; exit 2 ;;
        *) tools+=("$1"); shift ;;
    esac
done
if [ ${#tools[@]} -eq 0 ]; then
    for xml in "$here"/mire2e_*.xml; do tools+=("$(basename "$xml" .xml)"); done
fi
for b in mire2e-window mire2e-fold mire2e-mfe mire2e-classify mire2e; do
    [ -x "$bin/$b" ] || echo "note: $bin/$b is missing; its tool's tests will fail" >&2
done

# 1. Galaxy in a venv.
if [ ! -x "$venv/bin/galaxy-tool-test" ] || ! "$venv/bin/python" -c 'import galaxy.webapps.galaxy.fast_factory' 2>/dev/null; then
    echo "== installing galaxy 26.1 into $venv (a few minutes)"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q 'galaxy==26.1.*'
fi
gx_version=$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("galaxy"))')

# 2. Config: sqlite, local runner, no conda (the tools find the binaries on PATH), our tools only.
mkdir -p "$run"/{objects,tmp,jobs,tool-data,deps,results,cache}
key=$(cat "$run/admin.key" 2>/dev/null || { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' | tee "$run/admin.key"; })
{
    echo '<?xml version="1.0"?>'
    echo '<toolbox monitor="false">'
    echo '  <section id="mire2e" name="mire2e">'
    for xml in "$here"/mire2e_*.xml; do echo "    <tool file=\"$xml\"/>"; done
    echo '  </section>'
    echo '</toolbox>'
} > "$run/tool_conf.xml"
cat > "$run/job_conf.yml" <<EOF
runners:
  local:
    load: galaxy.jobs.runners.local:LocalJobRunner
    workers: 2
execution:
  default: local
  environments:
    local:
      runner: local
      env:
        - name: PATH
          value: $bin:\$PATH
EOF
# Galaxy's job scripts do not inherit the server's variables: pass the model folder explicitly.
[ -n "$models" ] && printf '        - name: MIRE2E_MODELS\n          value: %s\n' "$models" >> "$run/job_conf.yml"
echo "<toolbox tool_path=\"$run/shed_tools\"></toolbox>" > "$run/shed_tool_conf.xml"
cat > "$run/dependency_resolvers_conf.xml" <<'EOF'
<dependency_resolvers>
</dependency_resolvers>
EOF
cat > "$run/galaxy.yml" <<EOF
galaxy:
  database_connection: sqlite:///$run/universe.sqlite?isolation_level=IMMEDIATE
  database_auto_migrate: true
  file_path: $run/objects
  new_file_path: $run/tmp
  job_working_directory: $run/jobs
  cache_dir: $run/cache
  tool_data_path: $run/tool-data
  tool_dependency_dir: $run/deps
  tool_config_file: $run/tool_conf.xml
  shed_tool_config_file: $run/shed_tool_conf.xml
  job_config_file: $run/job_conf.yml
  dependency_resolvers_config_file: $run/dependency_resolvers_conf.xml
  conda_auto_init: false
  conda_auto_install: false
  admin_users: admin@mire2e.test
  bootstrap_admin_api_key: $key
  id_secret: $key
  allow_user_creation: true
  require_login: false
  galaxy_infrastructure_url: http://127.0.0.1:$port
  watch_tools: false
  enable_celery_tasks: false
  metadata_strategy: directory
  check_migrate_tools: false
  cleanup_job: onsuccess
  allow_path_paste: true
EOF

# 3. Start Galaxy (gunicorn with Galaxy's FastAPI app) with the binaries first on PATH.
if curl -fsS "http://127.0.0.1:$port/api/version" >/dev/null 2>&1; then
    echo "run-tests.sh: something already answers on 127.0.0.1:$port (stop it, or use --port)" >&2; exit 1
fi
echo "== starting Galaxy $gx_version on 127.0.0.1:$port (log: $run/galaxy.log)"
(
    cd "$run"
    export PATH="$bin:$venv/bin:$PATH" GALAXY_CONFIG_FILE="$run/galaxy.yml"
    [ -n "$models" ] && export MIRE2E_MODELS="$models"
    exec "$venv/bin/gunicorn" 'galaxy.webapps.galaxy.fast_factory:factory()' \
        -k galaxy.webapps.galaxy.workers.Worker --bind "127.0.0.1:$port" --workers 1 \
        --timeout 600 --config python:galaxy.web_stack.gunicorn_config >"$run/galaxy.log" 2>&1
) &
gx_pid=$!
echo "$gx_pid" > "$run/galaxy.pid"
stop() {
    if ! $keep && kill -0 "$gx_pid" 2>/dev/null; then
        kill "$gx_pid" 2>/dev/null || true
        wait "$gx_pid" 2>/dev/null || true
    fi
}
trap stop EXIT
for _ in $(seq 600); do
    curl -fsS "http://127.0.0.1:$port/api/version" >/dev/null 2>&1 && break
    if ! kill -0 "$gx_pid" 2>/dev/null || grep -q 'Worker failed to boot\|exited with code' "$run/galaxy.log"; then
        echo "Galaxy did not start; last lines of $run/galaxy.log:" >&2; tail -n 30 "$run/galaxy.log" >&2; exit 1
    fi
    sleep 1
done
curl -fsS "http://127.0.0.1:$port/api/version" >/dev/null || { echo "Galaxy did not answer in 10 minutes" >&2; exit 1; }
echo "== Galaxy answers: $(curl -fsS "http://127.0.0.1:$port/api/version")"

# 4. The tests, one tool at a time.
rm -rf "$run/results" && mkdir -p "$run/results"
for tool in "${tools[@]}"; do
    echo "== galaxy-tool-test $tool"
    "$venv/bin/galaxy-tool-test" -u "http://127.0.0.1:$port" -a "$key" -t "$tool" \
        --test-data "$here/test-data" -j "$run/results/$tool.json" -o "$run/results/$tool" \
        --history-per-test-case --no-history-cleanup > "$run/results/$tool.log" 2>&1 || true
done

# 5. Summary from the JSON reports.
"$venv/bin/python" - "$run/results" "${tools[@]}" <<'EOF'
import json, sys
from pathlib import Path
results, tools = Path(sys.argv[1]), sys.argv[2:]
passed = failed = 0
for tool in tools:
    path = results / f"{tool}.json"
    if not path.is_file():
        print(f"FAILED  {tool}: no report (see {results / (tool + '.log')})")
        failed += 1
        continue
    tests = json.loads(path.read_text()).get("tests", [])
    if not tests:
        print(f"FAILED  {tool}: no test ran (see {results / (tool + '.log')})")
        failed += 1
    for t in tests:
        data = t.get("data", {})
        ok = data.get("status") == "success"
        passed += ok
        failed += not ok
        name = f"{tool} test {data.get('test_index', '?')}"
        if ok:
            print(f"ok      {name}")
        else:
            problems = data.get("job", {}).get("stderr", "") or ""
            why = "; ".join((data.get("output_problems") or [])[:2]) or problems.strip().splitlines()[-1:] or ["see log"]
            why = why if isinstance(why, str) else why[0]
            print(f"FAILED  {name}: {why[:300]}")
print(f"galaxy tool tests: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
