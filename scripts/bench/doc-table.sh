# shellcheck shell=bash
# Sourced by scripts/bench.sh and scripts/bench-compose.sh: the tables they
# generate into docs/performance.md.

# Replaces what stands between `<!-- $1:start -->` and `<!-- $1:end -->` in
# docs/performance.md with the contents of the file $2.
replace_doc_table() {
    python3 - "$1" "$2" docs/performance.md <<'PY'
import sys
name, table, doc = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
text = open(doc).read()
head, rest = text.split(start, 1)
_, tail = rest.split(end, 1)
open(doc, "w").write(f"{head}{start}\n{table}{end}{tail}")
PY
}
