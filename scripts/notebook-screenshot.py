#!/usr/bin/python3
"""Screenshot a notebook as a person sees it in Jupyter, after Run All: for a look, not for CI.

Usage: /usr/bin/python3 scripts/notebook-screenshot.py [notebooks/quickstart.ipynb] [--size smoke|full] [--out build/screenshots]

Copies the notebook to build/screenshots/ (the committed one is never opened, so no autosave can touch it), starts
the classic notebook server there with the repo's kernelspecs (as `npm run notebook` does), opens the page in
headless Chromium, clicks Cell > Run All (Jupyter.notebook.execute_all_cells()), waits until every code cell has run,
and writes a full-page PNG: build/screenshots/<name>.png. Needs jupyter-notebook and chromium
(sudo apt-get install -y --no-install-recommends jupyter-notebook chromium) and `npm run build` first.
Drives Chromium over the DevTools protocol with tornado's websocket client (tornado comes with jupyter-notebook).
"""
import argparse, base64, importlib.util, json, os, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {seconds}s")


class DevTools:
    """A minimal Chrome DevTools protocol client for one page."""

    def __init__(self, websocket_url):
        from tornado.ioloop import IOLoop
        from tornado.websocket import websocket_connect
        self.loop = IOLoop.current()
        self.ws = self.loop.run_sync(lambda: websocket_connect(websocket_url, max_message_size=1 << 30))
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        call_id = self.next_id
        self.ws.write_message(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = self.loop.run_sync(self.ws.read_message)
            if message is None:
                raise RuntimeError("Chromium closed the DevTools connection")
            reply = json.loads(message)
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")


ALL_RAN = """(() => {
  const nb = window.Jupyter && Jupyter.notebook;
  if (!nb) return false;
  const code = nb.get_cells().filter((cell) => cell.cell_type === 'code');
  return document.querySelectorAll('div.cell.running').length === 0 &&
    code.every((cell) => typeof cell.input_prompt_number === 'number');
})()"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook", nargs="?", default="notebooks/quickstart.ipynb")
    ap.add_argument("--size", choices=["smoke", "full"], default="smoke", help="CONVKIT_SIZE for the kernel (default smoke)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "screenshots"))
    ap.add_argument("--timeout", type=int, default=900, help="seconds to wait for Run All")
    ap.add_argument("--width", type=int, default=1280)
    args = ap.parse_args()
    source = os.path.abspath(os.path.join(os.environ.get("INIT_CWD", os.getcwd()), args.notebook))
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        sys.exit("chromium not found: sudo apt-get install -y --no-install-recommends chromium")
    os.makedirs(args.out, exist_ok=True)
    name = os.path.basename(source)
    shutil.copy2(source, os.path.join(args.out, name))
    launcher = importlib.util.spec_from_file_location("convkit_notebook_launcher", os.path.join(ROOT, "scripts", "notebook.py"))
    module = importlib.util.module_from_spec(launcher)
    launcher.loader.exec_module(module)
    module.trust(args.out)  # as `npm run notebook` does: no "Not Trusted"

    env = {**os.environ, "CONVKIT_SIZE": args.size, "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           "JUPYTER_PATH": os.path.join(ROOT, "jupyter") + os.pathsep + os.environ.get("JUPYTER_PATH", "")}
    token, port, debug_port = secrets.token_hex(16), free_port(), free_port()
    server = subprocess.Popen(["jupyter", "notebook", "--no-browser", "--allow-root", f"--port={port}", "--port-retries=0",
                               f"--NotebookApp.token={token}", f"--notebook-dir={args.out}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    profile = tempfile.mkdtemp(prefix="convkit-chromium-")
    browser = None
    try:
        wait_for(f"http://127.0.0.1:{port}/api?token={token}", 60)
        browser = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                                    f"--remote-debugging-port={debug_port}", f"--window-size={args.width},900", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pages = json.loads(wait_for(f"http://127.0.0.1:{debug_port}/json/list", 30))
        page = next(p for p in pages if p.get("type") == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call("Page.enable")
        tools.call("Page.navigate", url=f"http://127.0.0.1:{port}/notebooks/{name}?token={token}")
        started = time.monotonic()
        ready = "window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()"
        while not tools.evaluate(f"!!({ready})"):
            if time.monotonic() - started > 120:
                raise RuntimeError("the notebook's kernel did not connect in 120 s")
            time.sleep(0.5)
        tools.evaluate("Jupyter.notebook.execute_all_cells(), true")
        print(f"{name}: Run All at CONVKIT_SIZE={args.size} ...", flush=True)
        while not tools.evaluate(ALL_RAN):
            if time.monotonic() - started > args.timeout:
                raise RuntimeError(f"Run All did not finish in {args.timeout} s")
            time.sleep(1)
        ran = time.monotonic() - started
        # The classic notebook scrolls inside #site: let it grow to the whole notebook, then shoot the full page.
        height = tools.evaluate("document.getElementById('site').style.height = 'auto', "
                                "document.getElementById('site').style.overflow = 'visible', document.body.scrollHeight")
        tools.call("Emulation.setDeviceMetricsOverride", width=args.width, height=int(height), deviceScaleFactor=1, mobile=False)
        time.sleep(1)
        shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        target = os.path.join(args.out, os.path.splitext(name)[0] + ".png")
        with open(target, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        errors = tools.evaluate("document.querySelectorAll('.output_stderr').length")
        print(f"wrote {os.path.relpath(target, ROOT)} ({args.width}x{height}; Run All took {ran:.0f} s; "
              f"{errors} output(s) on stderr)")
    finally:
        if browser is not None:
            browser.terminate()
            browser.wait(10)
        server.terminate()
        server.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
