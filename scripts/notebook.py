#!/usr/bin/python3
"""Start the classic Jupyter Notebook (6.4) on convkit's notebooks with the repo's own kernel: `npm run notebook`.

Usage: npm run notebook [-- JUPYTER NOTEBOOK OPTIONS]     e.g. npm run notebook -- --allow-root --no-browser

- The kernelspecs in jupyter/kernels (tslab, jslab) are found through JUPYTER_PATH: nothing to register.
- The notebooks are trusted on start (signed in this user's nbsignatures.db, as `jupyter trust` does), so their
  committed plots and tables show without "Not Trusted".
- At CONVKIT_SIZE=full (or unset) the server opens notebooks/ itself. At any other size (smoke) it opens fresh copies
  in build/notebooks-<size>/ instead and says so, because the 120 s autosave would otherwise write smoke outputs over
  the committed full-size ones.
- PYDEVD_DISABLE_FILE_VALIDATION=1 silences ipykernel's "Debugger warning: frozen modules" lines.
The server listens on http://localhost:8888 (the next free port if that one is taken; it prints the address).
"""
import glob, os, shutil, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")


def serving_folder(size):
    """The folder the server opens: notebooks/ at full size, else fresh copies under build/."""
    if size == "full":
        return NOTEBOOKS
    copies = os.path.join(ROOT, "build", f"notebooks-{size}")
    shutil.rmtree(copies, ignore_errors=True)
    os.makedirs(copies)
    for path in glob.glob(os.path.join(NOTEBOOKS, "*.ipynb")):
        shutil.copy2(path, copies)
    bar = "!" * 100
    print(f"{bar}\nCONVKIT_SIZE={size}: serving COPIES of the notebooks from {os.path.relpath(copies, ROOT)}/ "
          f"(refreshed at each start).\nThe committed notebooks/ keep their full-size outputs; "
          f"unset CONVKIT_SIZE to open them.\n{bar}", flush=True)
    return copies


def trust(folder):
    """Signs every notebook in the folder, as `jupyter trust` does (Debian ships that command separately)."""
    import nbformat
    from nbformat.sign import NotebookNotary
    notary = NotebookNotary()
    paths = sorted(glob.glob(os.path.join(folder, "*.ipynb")))
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if not notary.check_signature(nb):
            notary.sign(nb)
    print(f"notebooks: {len(paths)} trusted in {notary.db_file}", flush=True)


def main():
    os.environ["JUPYTER_PATH"] = os.path.join(ROOT, "jupyter") + os.pathsep + os.environ.get("JUPYTER_PATH", "")
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    size = os.environ.get("CONVKIT_SIZE") or "full"
    folder = serving_folder(size)
    trust(folder)
    if shutil.which("jupyter-notebook") is None:
        sys.exit("jupyter-notebook not found: sudo apt-get install -y --no-install-recommends jupyter-notebook "
                 "(or run bash scripts/setup-system.sh)")
    os.execvp("jupyter", ["jupyter", "notebook", f"--notebook-dir={folder}", *sys.argv[1:]])


if __name__ == "__main__":
    main()
