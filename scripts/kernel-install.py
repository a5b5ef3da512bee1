#!/usr/bin/python3
"""Register the repo's kernels (jupyter/kernels/tslab and jslab) for this user: `npm run kernel:install`.

Needed only where Jupyter does not get the repo's JUPYTER_PATH: VS Code's Jupyter extension, or a `jupyter notebook`
started by hand (`npm run notebook` needs nothing). The installed kernel.json files are the repo's with
{resource_dir} made absolute, so they run this clone's tslab (tools/tslab) with the same preload
(jupyter/sigint-rearm.cjs: Kernel > Interrupt stops a fit instead of killing the kernel). Run it again after moving
the clone.
"""
import json, os, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
try:
    from jupyter_client.kernelspec import KernelSpecManager
except ImportError:
    sys.exit("jupyter_client not found: sudo apt-get install -y --no-install-recommends jupyter-client")


def main():
    manager = KernelSpecManager()
    for name in ("tslab", "jslab"):
        source = os.path.join(ROOT, "jupyter", "kernels", name)
        with open(os.path.join(source, "kernel.json")) as f:
            spec = json.load(f)
        spec["argv"] = [os.path.normpath(arg.replace("{resource_dir}", source)) if "{resource_dir}" in arg else arg
                        for arg in spec["argv"]]
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "kernel.json"), "w") as f:
                json.dump(spec, f, indent=2)
            target = manager.install_kernel_spec(folder, kernel_name=name, user=True)
        print(f"{name}: {spec['display_name']} -> {target}")


if __name__ == "__main__":
    main()
