#!/usr/bin/python3
"""The notebooks as a Jupyter user meets them: drive the repo's tslab kernel over the Jupyter protocol.

Usage: /usr/bin/python3 scripts/jupyter-check.py      (run by .ci/run after the notebooks; needs `npm run build`)

Starts a kernel with jupyter_client and the repo's kernelspec (jupyter/kernels/tslab), as the notebook server does,
then checks, each on its own line ("ok" or "FAIL"), the last line being "jupyter-check: N passed, N failed":
1. interrupt: a training cell (a small CNN at tiny size, one line per batch) is interrupted as Kernel > Interrupt
   does (SIGINT); no more than two batches finish after the interrupt, afterFit runs, and the next cell sees
   `learner.history` up to the last finished step;
2. a plot cell sends `image/png` display data (the learning curves of that history);
3. an unhandled rejection and a throw in a timer, after initBackend(), are reported and leave the kernel alive;
and, without Jupyter, that jupyter/sigint-rearm.cjs (preloaded by the kernelspecs) keeps a SIGINT listener added
inside a cell's synchronous part from turning the interrupt into the kernel's death (jupyter/sigint-rearm.test.cjs),
and that `npm run notebook` at CONVKIT_SIZE=smoke serves copies in build/, not the committed notebooks.
"""
import base64, importlib.util, json, os, queue, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["JUPYTER_PATH"] = os.path.join(ROOT, "jupyter") + os.pathsep + os.environ.get("JUPYTER_PATH", "")
os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
try:
    from jupyter_client.manager import KernelManager
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    sys.exit("jupyter_client not found: sudo apt-get install -y --no-install-recommends jupyter-client")

CELL_TIMEOUT = 180

SETUP = r"""
import * as tslab from "tslab";
import { initBackend, tf } from "@convkit/core";
import { Learner, type Batch, type BatchSource } from "@convkit/learner";
import { display, lineChart } from "@convkit/plot";

const backend = await initBackend({ threads: 1 });
// Tiny random images, regenerated each epoch; 32 batches of 32 28x28 images.
function source(batches: number): BatchSource {
  return {
    length: batches,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let b = 0; b < batches; b++) {
        yield { x: tf.randomUniform([32, 28, 28, 1]), y: tf.randomUniform([32], 0, 10, "int32") };
      }
    },
  };
}
const model = tf.sequential({
  layers: [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: "same", activation: "relu" }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: "same", activation: "relu" }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 10 }),
  ],
});
const learner = new Learner({
  model: model,
  loss: "softmaxCrossEntropy",
  optimizer: tf.train.adam(1e-3),
  train: source(32),
  plugins: [{
    name: "probe",
    afterBatch(ctx: { epoch: number; batchIndex: number }) { console.log(`probe batch ${ctx.epoch} ${ctx.batchIndex}`); },
    afterFit() { console.log("probe afterFit"); },
  }],
});
console.log(`setup done on ${backend.name}`);
"""

TRAIN = "const fitted = await learner.fit(50);"

HISTORY = r"""
const steps = learner.history.steps;
console.log(`history ${JSON.stringify({ steps: steps.length, last: steps.at(-1) === undefined ? null : { epoch: steps.at(-1)!.epoch, batch: steps.at(-1)!.batch }, stopReason: learner.history.stopReason ?? null })}`);
"""

# The batch losses of the interrupted fit (it ended inside its first epoch, so there is no epoch to draw curves of).
PLOT = r"""
const losses = learner.history.steps.map((s) => ({ x: s.step, y: s.loss }));
await display(lineChart({ data: losses, x: { title: "step" }, y: { title: "loss" }, title: "interrupted fit" }), tslab.display);
"""

UNHANDLED = r"""
Promise.reject(new Error("left unhandled on purpose"));
setTimeout(() => { throw new Error("thrown in a timer on purpose"); }, 0);
await new Promise((resolve) => setTimeout(resolve, 200));
console.log("cell after the errors ran to its end");
"""

ALIVE = 'console.log(`alive ${6 * 7}`);'


class Kernel:
    """A tslab kernel and the messages it sends on iopub, whatever request they answer."""

    def __init__(self):
        self.km = KernelManager(kernel_name="tslab")
        env = {**os.environ, "CONVKIT_THREADS": "1", "CONVKIT_SIZE": "smoke"}
        self.km.start_kernel(cwd=os.path.join(ROOT, "notebooks"), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def messages(self, timeout):
        """Yields iopub messages until `timeout` seconds pass with none."""
        while True:
            try:
                yield self.kc.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                return

    def execute(self, code, on_message=None):
        """Runs a cell; returns (stdout, stderr, display data list) of its outputs, calling on_message for each."""
        msg_id = self.kc.execute(code)
        out, err, data = [], [], []
        deadline = time.monotonic() + CELL_TIMEOUT
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=5)
            except queue.Empty:
                if not self.km.is_alive():
                    raise RuntimeError("the kernel died")
                continue
            if on_message is not None:
                on_message(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                (out if content["name"] == "stdout" else err).append(content["text"])
            elif kind in ("display_data", "execute_result", "update_display_data"):
                data.append(content["data"])
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out), "".join(err), data
        raise RuntimeError(f"cell did not finish in {CELL_TIMEOUT}s: {code[:60]!r}")

    def stop(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def check_interrupt(kernel, results):
    """Interrupt fit after a few batches; at most two batches may finish after it."""
    state = {"batches": 0, "at_interrupt": None, "after_fit": False, "sent": None}

    def watch(msg):
        if msg["msg_type"] != "stream":
            return
        for line in msg["content"]["text"].splitlines():
            if line.startswith("probe batch "):
                state["batches"] += 1
                if state["batches"] == 5 and state["sent"] is None:
                    state["sent"] = time.monotonic()
                    state["at_interrupt"] = state["batches"]
                    kernel.km.interrupt_kernel()
            elif line == "probe afterFit":
                state["after_fit"] = True

    out, err, _ = kernel.execute(TRAIN, watch)
    # The cell ends at the interrupt; the loop itself stops at its next batch boundary: wait for afterFit (a fit that
    # ignores the interrupt would go on for minutes: give up after 30 s).
    deadline = time.monotonic() + 30
    for msg in kernel.messages(timeout=5):
        watch(msg)
        if state["after_fit"] or time.monotonic() > deadline:
            break
    for msg in kernel.messages(timeout=1):  # anything still coming after afterFit
        watch(msg)
    if state["sent"] is None:
        results.append((False, "interrupt", f"fit ended before its 5th batch: {(out + err)[-400:]!r}"))
        return None
    after = state["batches"] - state["at_interrupt"]
    ok = after <= 2 and state["after_fit"]
    results.append((ok, "interrupt stops fit within two batches and runs afterFit",
                    f"{after} batch(es) finished after the interrupt (of {state['batches']}); afterFit "
                    f"{'ran' if state['after_fit'] else 'did not run'}; cell stderr: {err.strip()[-200:]!r}"))
    hist_out, hist_err, _ = kernel.execute(HISTORY)
    line = next((l for l in hist_out.splitlines() if l.startswith("history ")), None)
    if line is None:
        results.append((False, "next cell sees the history", f"no history line: {hist_out!r} {hist_err!r}"))
        return None
    history = json.loads(line[len("history "):])
    # fit's message counts the epoch from 1 and the batches that completed: "interrupted at epoch 1, batch 5".
    where = f"interrupted at epoch {history['last']['epoch'] + 1}, batch {history['last']['batch'] + 1}" if history["last"] else "?"
    ok = history["steps"] == state["batches"] and where in (history["stopReason"] or "")
    results.append((ok, "next cell sees learner.history up to the interrupted step",
                    f"history has {history['steps']} step(s), last {history['last']}, stopReason {history['stopReason']!r}; "
                    f"{state['batches']} batch(es) ran"))
    return history


def check_plot(kernel, results):
    _, err, data = kernel.execute(PLOT)
    pngs = [d["image/png"] for d in data if "image/png" in d]
    ok = len(pngs) == 1 and base64.b64decode(pngs[0])[:8] == b"\x89PNG\r\n\x1a\n"
    results.append((ok, "a plot cell sends image/png display data",
                    f"{len(pngs)} image/png of {len(data)} display message(s), "
                    f"{len(base64.b64decode(pngs[0])) if pngs else 0} bytes; stderr {err.strip()[-200:]!r}"))


def check_unhandled(kernel, results):
    out, err, _ = kernel.execute(UNHANDLED)
    reported = "left unhandled on purpose" in err and "thrown in a timer on purpose" in err
    alive_out, _, _ = kernel.execute(ALIVE)
    ok = reported and "alive 42" in alive_out and kernel.km.is_alive()
    results.append((ok, "an unhandled rejection and a throw in a timer leave the kernel alive",
                    f"errors {'reported' if reported else 'not reported'} on stderr; next cell printed {alive_out.strip()!r}"))


def check_smoke_guard(results):
    """`npm run notebook` at CONVKIT_SIZE=smoke serves copies, never the committed notebooks (autosave)."""
    spec = importlib.util.spec_from_file_location("convkit_notebook_launcher", os.path.join(ROOT, "scripts", "notebook.py"))
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    committed = sorted(os.listdir(launcher.NOTEBOOKS))
    smoke = launcher.serving_folder("smoke")
    copies = sorted(os.listdir(smoke))
    ok = (launcher.serving_folder("full") == launcher.NOTEBOOKS and os.path.realpath(smoke) != os.path.realpath(launcher.NOTEBOOKS)
          and copies == [name for name in committed if name.endswith(".ipynb")])
    results.append((ok, "npm run notebook at CONVKIT_SIZE=smoke serves copies",
                    f"smoke serves {os.path.relpath(smoke, ROOT)}/ ({len(copies)} notebooks), full serves notebooks/"))


def check_sigint_preload(results):
    run = subprocess.run(["node", os.path.join(ROOT, "jupyter", "sigint-rearm.test.cjs")], capture_output=True, text=True)
    results.append((run.returncode == 0, "the kernels' SIGINT preload", (run.stdout + run.stderr).strip()[-400:]))


def main():
    started = time.monotonic()
    results = []
    check_smoke_guard(results)
    check_sigint_preload(results)
    kernel = Kernel()
    try:
        out, err, _ = kernel.execute(SETUP)
        if "setup done" not in out:
            print(f"FAIL setup cell: {out[-400:]}{err[-1200:]}")
            return 1
        print(next((line for line in out.splitlines() if line.startswith("convkit:")), out.strip()[-200:]))
        check_interrupt(kernel, results)
        check_plot(kernel, results)
        check_unhandled(kernel, results)
    except RuntimeError as error:
        results.append((False, "kernel", str(error)))
    finally:
        kernel.stop()
    for ok, name, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    failed = sum(1 for ok, _, _ in results if not ok)
    print(f"jupyter-check: {len(results) - failed} passed, {failed} failed ({time.monotonic() - started:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
