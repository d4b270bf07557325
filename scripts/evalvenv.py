"""The evaluation venv the reference scripts run in: ${XDG_CACHE_HOME:-~/.cache}/summarise/eval-venv.

`run_inside(package, version)` makes sure the venv exists and holds `package==version` (pip
installs it when missing or at another version), then runs the calling script again inside it;
in the venv it returns at once. Paths are not of this machine: the venv lives in the user's cache.
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "summarise" / "eval-venv"
INNER = "SUMMARISE_EVAL_VENV_INNER"


def run_inside(package, version):
    if os.environ.get(INNER) == "1":
        return
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    check = "import importlib.metadata as m, sys; sys.exit(m.version(sys.argv[1]) != sys.argv[2])"
    # cwd=ROOT: `-c` and `-m` put the working directory on sys.path, where stray files could
    # shadow modules.
    if subprocess.run([str(py), "-c", check, package, version], cwd=ROOT, capture_output=True).returncode:
        subprocess.run(
            [str(py), "-m", "pip", "install", "--quiet", f"{package}=={version}"], cwd=ROOT, check=True
        )
    env = dict(os.environ, **{INNER: "1"})
    script = str(Path(sys.argv[0]).resolve())
    sys.exit(subprocess.run([str(py), script] + sys.argv[1:], env=env, cwd=ROOT).returncode)
