#!/usr/bin/python3
"""Execute convkit's tslab notebooks headlessly; exit 1 if any cell fails, times out, or the kernel dies.

Usage:
  /usr/bin/python3 scripts/run-notebooks.py [--size smoke|full] [--timeout 300] [--out build/notebooks] [--in-place] [NB.ipynb ...]

--size sets CONVKIT_SIZE for the kernels (smoke: seconds, the CI run; full: the figures committed in the outputs).
--in-place writes the executed notebooks back over the originals (how the committed full-size outputs are made).
Needs Debian's python3-nbclient (+ jupyter-client); run with /usr/bin/python3, not pyenv's python3.
The last line is "notebooks: N passed, N failed".
"""
import argparse, glob, os, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The repo's own kernelspecs (jupyter/kernels/{tslab,jslab}): nothing to register.
os.environ["JUPYTER_PATH"] = os.path.join(ROOT, "jupyter") + os.pathsep + os.environ.get("JUPYTER_PATH", "")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

try:
    import nbformat
    from nbclient import NotebookClient
except ImportError:
    # `python3` may be pyenv's, which has no Jupyter; Debian's packages live under /usr/bin/python3.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    sys.exit("nbclient not found: sudo apt-get install -y --no-install-recommends python3-nbclient jupyter-client")
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

# tslab reports a thrown error only as stderr text (the execute_reply has no ename/evalue),
# and errors in timers or un-awaited promises do not fail the cell at all: catch those here.
ASYNC_ERROR_MARKERS = ("UnhandledPromiseRejection:", "UncaughtException:")


def stream_text(cell, name=None):
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and (name is None or o.get("name") == name))


# A kernel that never answered its first kernel_info request, before any cell ran: tslab 1.0 can fail that reply when
# the request arrives while its ZeroMQ socket is still binding ("Socket is blocked by a bind or unbind operation",
# EBUSY), and nbclient then waits out the start-up timeout. No cell was sent, so the notebook is started again.
STARTUP_RACE = ("Kernel didn't respond in", "Kernel died before replying to kernel_info")
STARTUP_ATTEMPTS = 3


def run(path, args):
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        outcome = run_once(path, args, last=attempt == STARTUP_ATTEMPTS)
        if outcome != "startup-race":
            return outcome
        print(f"note {os.path.relpath(path, ROOT)}: the kernel did not answer at start-up (attempt {attempt} of "
              f"{STARTUP_ATTEMPTS}); starting it again", flush=True)


def run_once(path, args, last=False):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=args.timeout,  # per cell, seconds
        startup_timeout=args.startup_timeout,
        kernel_name=args.kernel or nb.metadata.get("kernelspec", {}).get("name", "tslab"),
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},  # kernel cwd = notebook dir
    )
    t0 = time.monotonic()
    error = None
    try:
        client.execute()
    except CellTimeoutError:
        error = f"cell timed out after {args.timeout}s"
    except DeadKernelError as e:
        error = f"kernel died: {e}"
    except CellExecutionError:
        error = "cell raised an error"
    except Exception as e:  # kernel failed to start (NoSuchKernel, "Kernel died before replying to kernel_info"), ...
        error = f"{type(e).__name__}: {e}"
        # Both messages come from the kernel's start (nbclient's wait_for_ready), before any cell is sent.
        if not last and any(marker in str(e) for marker in STARTUP_RACE):
            return "startup-race"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(m in stream_text(cell, "stderr") for m in ASYNC_ERROR_MARKERS):
            error = error or f"cell {i} reported an uncaught async error"
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        nbformat.write(nb, os.path.join(args.out, os.path.basename(path)))  # written even on failure
    if args.in_place and not error:
        tmp = path + ".tmp"
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
    dt = time.monotonic() - t0
    if error:
        print(f"FAIL {os.path.relpath(path, ROOT)} ({dt:.1f}s): {error}", flush=True)
        # show the last code cell with stderr output (tslab writes the stack trace there)
        for i, cell in reversed(list(enumerate(nb.cells))):
            err = stream_text(cell, "stderr")
            if cell.cell_type == "code" and err:
                print(f"--- cell {i} ---\n{cell.source}\n--- stderr ---\n{err.rstrip()}\n", flush=True)
                break
        return False
    print(f"ok   {os.path.relpath(path, ROOT)} ({dt:.1f}s)", flush=True)
    return True


def resolve(path):
    """A notebook path as the user typed it: relative to where npm was started (INIT_CWD), the cwd, or the repo."""
    for base in (os.environ.get("INIT_CWD"), os.getcwd(), ROOT):
        if base and os.path.exists(os.path.join(base, path)):
            return os.path.abspath(os.path.join(base, path))
    sys.exit(f"notebook not found: {path} (looked relative to {os.environ.get('INIT_CWD') or os.getcwd()} and {ROOT})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="*")
    ap.add_argument("--size", choices=["smoke", "full"], default=os.environ.get("CONVKIT_SIZE", "smoke"))
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("NB_TIMEOUT", "300")))
    ap.add_argument("--startup-timeout", type=int, default=90)
    ap.add_argument("--kernel", default=None, help="override the kernelspec name (default: from the notebook's metadata)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "notebooks"))
    ap.add_argument("--in-place", action="store_true", help="write executed notebooks back over the originals")
    args = ap.parse_args()
    os.environ["CONVKIT_SIZE"] = args.size
    if args.size == "full" and args.timeout == 300:
        args.timeout = 3600
    paths = [resolve(p) for p in args.notebooks] or sorted(p for p in glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb"))
                                     if ".ipynb_checkpoints" not in p)
    if not paths:
        print("no notebooks found")
        return 1
    print(f"running {len(paths)} notebook(s) at size {args.size}", flush=True)
    results = [run(p, args) for p in paths]
    passed, failed = results.count(True), results.count(False)
    print(f"notebooks: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
