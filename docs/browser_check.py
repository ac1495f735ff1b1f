"""Check the built site in a real browser: serve docs/_build/html on 127.0.0.1, open the home page, a
guide page and the MLP API page in headless Chromium, and check every internal link.

    python docs/browser_check.py [--html docs/_build/html] [--install]

For each page, Chromium's DOM (``--dump-dom``, after the page's scripts ran) must have the page's title
and at least the expected number of code blocks, and a screenshot is kept in
``docs/_build/screenshots/``. Every ``href``/``src`` of every built HTML file that points inside the site
must name a file that exists (and, with a ``#fragment``, an element with that id). Exit status 1 on
any failure. With ``--install`` (CI, as root) a missing Chromium is installed with apt-get first.
"""

from __future__ import annotations

import argparse
import functools
import html.parser
import http.server
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# page, its title's text, the least number of code blocks its DOM must hold: <pre> blocks on the
# home and guide pages; on an API page the rendered signatures (<dt class="sig ...">) of the class
# and its methods, which are what autodoc renders as code there
PAGES = [
    ("index.html", "bpx", 1),
    ("guide/math.html", "The math, beside the code", 7),
    ("api/generated/bpx.MLP.html", "bpx.MLP", 10),
]


def find_chromium(install):
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if install:
        print("browser check: chromium is missing; installing Debian's chromium with apt-get", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True)
        return shutil.which("chromium")
    return None


def chromium(browser, *args):
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", "--virtual-time-budget=3000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


class Links(html.parser.HTMLParser):
    """The ids, the <title>, the <pre> count and the links of one HTML document."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.pre, self.title, self._in_title = set(), [], 0, "", False
        self.signatures = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "pre":
            self.pre += 1
        if tag == "dt" and "sig" in (attrs.get("class") or "").split():
            self.signatures += 1
        if tag == "title":
            self._in_title = True
        for key in ("href", "src"):
            if attrs.get(key) and tag in ("a", "img", "link", "script"):
                self.links.append(attrs[key])

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def parse(text):
    parser = Links()
    parser.feed(text)
    return parser


def broken_links(root):
    """'page: link (why)' for every internal link of the built site that points nowhere."""
    parsed, problems = {}, []

    def document(path):
        if path not in parsed:
            parsed[path] = parse(path.read_text(encoding="utf-8", errors="replace"))
        return parsed[path]

    for page in sorted(root.rglob("*.html")):
        if "_static" in page.relative_to(root).parts:
            continue  # the theme's template fragments, not pages
        for link in document(page).links:
            url = urllib.parse.urlsplit(link)
            if url.scheme or url.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue  # external: not checked here
            target = page if not url.path else (page.parent / urllib.parse.unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.relative_to(root)}: {link} (no such file)")
            elif url.fragment and target.suffix == ".html" and url.fragment not in document(target).ids:
                problems.append(f"{page.relative_to(root)}: {link} (no element with id {url.fragment!r})")
    return problems


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", default=str(DOCS / "_build" / "html"))
    parser.add_argument("--screenshots", default=str(DOCS / "_build" / "screenshots"))
    parser.add_argument("--install", action="store_true", help="apt-get install chromium when it is missing")
    args = parser.parse_args(argv)
    root, shots = Path(args.html).resolve(), Path(args.screenshots)
    if not (root / "index.html").exists():
        sys.exit(f"browser check: {root}/index.html does not exist: build the docs first")
    browser = find_chromium(args.install)
    if browser is None:
        sys.exit("browser check: no chromium found (apt-get install chromium, or run with --install as root)")
    shots.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    failures = []
    try:
        for page, title, least_pre in PAGES:
            url = base + page
            dom = chromium(browser, "--dump-dom", url)
            found = parse(dom.stdout)
            ok_title = title in found.title
            blocks = found.pre if found.pre else found.signatures
            ok_pre = blocks >= least_pre
            shot = shots / (page.replace("/", "_").removesuffix(".html") + ".png")
            chromium(browser, f"--screenshot={shot}", "--window-size=1280,1600", url)
            ok_shot = shot.exists() and shot.stat().st_size > 10_000
            kind = "" if found.pre else " (signatures)"
            print(f"{page}: title {found.title.strip()!r} ({'ok' if ok_title else 'MISSING ' + repr(title)}), "
                  f"{blocks} code blocks{kind} ({'ok' if ok_pre else f'expected at least {least_pre}'}), "
                  f"screenshot {shot} ({'ok' if ok_shot else 'missing or blank'})")
            if not (ok_title and ok_pre and ok_shot):
                failures.append(page)
                if dom.returncode:
                    print(dom.stderr[-2000:])
    finally:
        server.shutdown()
    problems = broken_links(root)
    print(f"internal links: {len(problems)} broken" + "".join(f"\n  {p}" for p in problems[:50]))
    if failures or problems:
        sys.exit(1)
    print("browser check passed")


if __name__ == "__main__":
    main()
