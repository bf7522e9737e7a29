#!/bin/bash
# A real nbgrader round trip of the four original exercise notebooks (E1-E4), outside the test suite.
# nbgrader lives in its own venv (NBG, default /tmp/nbg; made with `python3 -m venv $NBG && $NBG/bin/pip install nbgrader`);
# the notebooks run in a kernel of the repository's .venv. Alice submits the released notebooks with the instructor
# solutions filled in (expect full marks), bob submits them untouched (expect 0). Prints nbgrader's grade export.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NBG=${NBG:-/tmp/nbg}
COURSE=$(mktemp -d /tmp/nbgcourse.XXXX)
mkdir -p "$COURSE/source/ps1" "$COURSE/submitted/alice/ps1" "$COURSE/submitted/bob/ps1" "$COURSE/kernels/python3"
cat > "$COURSE/kernels/python3/kernel.json" <<JSON
{"argv": ["$ROOT/.venv/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "vizlab", "language": "python"}
JSON
export JUPYTER_PATH="$COURSE" PATH="$NBG/bin:$PATH"   # nbgrader runs alembic from PATH
cp "$ROOT"/notebooks/exercises/E{1_attribution,2_inside,3_optimize,4_style}.ipynb "$COURSE/source/ps1/"
cat > "$COURSE/nbgrader_config.py" <<CFG
c = get_config()
c.CourseDirectory.root = "$COURSE"
c.ExecutePreprocessor.timeout = 900
CFG
cd "$COURSE"
for s in alice bob; do "$NBG/bin/nbgrader" db student add "$s" > /dev/null 2>&1; done
"$NBG/bin/nbgrader" generate_assignment ps1 --force > generate.log 2>&1
"$NBG/bin/python" - <<'PY'
import glob, os, re
import nbformat
for released in sorted(glob.glob("release/ps1/*.ipynb")):
    name = os.path.basename(released)
    nb, source = nbformat.read(released, 4), nbformat.read(f"source/ps1/{name}", 4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = re.sub(r"^\s*### (BEGIN|END) SOLUTION\s*\n", "", solutions[grade_id], flags=re.M)
    nbformat.write(nb, f"submitted/alice/ps1/{name}")
    nbformat.write(nbformat.read(released, 4), f"submitted/bob/ps1/{name}")
PY
"$NBG/bin/nbgrader" autograde ps1 --force > autograde.log 2>&1
"$NBG/bin/nbgrader" export --to grades.csv > /dev/null 2>&1
cat grades.csv
echo "course folder: $COURSE"
