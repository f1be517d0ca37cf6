"""Drives the web console in headless Chromium against a running `cairn serve`.

Run by `crates/cairn-cli/tests/server_console.rs`, which starts the server and passes:
    console.py BASE_URL ROOT_PASSWORD SCREENSHOT_DIR [no-auth]
With `no-auth` the server runs with `--insecure-no-auth` and the flow checks the console works
without logging in.
Uses Playwright with the system Chromium (Playwright cannot download browsers here). Each
step saves a screenshot of the view it reached; any failed expectation raises, and any
Content-Security-Policy violation or page error fails the run.
"""

import base64
import json
import math
import os
import re
import sys

from playwright.sync_api import expect, sync_playwright

BASE, PASSWORD, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
NO_AUTH = sys.argv[4:5] == ["no-auth"]
CHROMIUM = os.environ.get("CAIRN_CHROMIUM", "/usr/bin/chromium")
# Generous: a debug build on a shared, busy machine. Bounds a hang; not a timing assertion.
TIMEOUT_MS = 60_000

BOX = '{"_id": 1, "kind": "box", "shape": {"$geometry": {"type": "box", "min": [0,0,0], "max": [2,1,1]}}}'
SPHERE = '{"_id": 2, "kind": "sphere", "shape": {"$geometry": {"type": "sphere", "center": [4,1,0], "radius": 1}}}'
MESH = ('{"_id": 3, "kind": "mesh", "shape": {"$geometry": {"type": "mesh", '
        '"vertices": [[0,0,3],[2,0,3],[1,2,3],[1,1,5]], "triangles": [[0,1,2],[0,1,3],[1,2,3],[2,0,3]]}}}')


def api(page, method, path, body):
    """Calls the API directly as root (for data the flow needs but does not test)."""
    secret = base64.b64encode(f"root:{PASSWORD}".encode()).decode()
    reply = page.request.fetch(BASE + path, method=method, data=json.dumps(body),
                               headers={"Authorization": f"Basic {secret}",
                                        "Content-Type": "application/json"})
    assert reply.ok, f"{method} {path}: {reply.status} {reply.text()}"


def log_in(page, user, password):
    """Logs in with the keyboard only: the user field has focus, Tab moves, Enter submits."""
    expect(page.locator("#login-user")).to_be_focused()
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page.locator("#logout")).to_be_visible()


def shot(page, name, full_page=False):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=full_page)


def canvas_lit_fraction(page):
    """The fraction of the WebGL canvas's pixels bright enough to be a lit shape: neither the
    clear colour (#1d232a) nor the grid (#44505c at its brightest) comes near."""
    return page.evaluate(
        """() => {
            const source = document.getElementById('geometry-canvas');
            const copy = document.createElement('canvas');
            copy.width = source.width; copy.height = source.height;
            const context = copy.getContext('2d');
            context.drawImage(source, 0, 0);
            const pixels = context.getImageData(0, 0, copy.width, copy.height).data;
            let lit = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                if (Math.max(pixels[i], pixels[i + 1], pixels[i + 2]) > 0x70) lit += 1;
            }
            return lit / (pixels.length / 4);
        }"""
    )


def plot_stroke_pixels(page):
    """Pixels of the uPlot canvas in the avg line's colour (#f28e2b): axes, grid and labels
    are drawn in other colours, so a blank plot has none."""
    return page.evaluate(
        """() => {
            const canvas = document.querySelector('#series-plot canvas');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let lit = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
                if (a > 200 && r > 200 && g > 110 && g < 175 && b < 90) lit += 1;
            }
            return lit;
        }"""
    )


def series_plot(page):
    """A time-series collection: plot a series, then drag-select a window, which is queried
    again with buckets sized to the plot."""
    api(page, "POST", "/v1/series", {"name": "readings", "time_field": "t", "meta_field": "sensor"})
    points = [{"t": t, "sensor": "s1", "temp": 20 + 5 * math.sin(t / 50)} for t in range(0, 5000, 2)]
    points += [{"t": t, "sensor": "s2", "temp": 10.0} for t in range(0, 100, 10)]
    api(page, "POST", "/v1/series/readings/points", {"points": points})
    page.goto(BASE + "/console#/c/readings/series")
    expect(page.locator("#series-info")).to_contain_text("over [0, 4999)")
    page.wait_for_timeout(300)
    lit = plot_stroke_pixels(page)
    assert lit > 100, f"the plot shows no line ({lit} pixels of its colour)"
    before = page.locator("#series-info").inner_text()
    box = page.locator("#series-plot .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    expect(page.locator("#series-info")).not_to_have_text(before)
    zoomed = page.locator("#series-info").inner_text()
    assert "buckets of 1 over" in zoomed or "buckets of 2 over" in zoomed, zoomed
    assert plot_stroke_pixels(page) > 100, "the zoomed plot shows no line"
    shot(page, "14-series")


def dated_series_plot(page):
    """Times written as `$date` are kept in microseconds since the epoch: the plot reads the
    collection's fields from `GET /v1/series/{c}` and shows the times as dates."""
    api(page, "POST", "/v1/series", {"name": "dated", "time_field": "at", "meta_field": "probe"})
    points = [{"at": {"$date": f"2026-12-01T{h:02d}:{m:02d}:00Z"}, "probe": {"site": "north"},
               "level": h * 60 + m} for h in range(0, 24) for m in range(0, 60, 10)]
    api(page, "POST", "/v1/series/dated/points", {"points": points})
    page.goto(BASE + "/console#/c/dated/series")
    expect(page.locator("#series-time-unit")).to_have_value("us")
    expect(page.locator("#series-info")).to_contain_text(
        "over [2026-12-01T00:00:00Z, 2026-12-01T23:50:00Z) of at")
    expect(page.locator("main")).to_contain_text("Series (probe)")
    page.wait_for_timeout(300)
    assert plot_stroke_pixels(page) > 100, "the dated plot shows no line"
    shot(page, "14b-series-dates")
    # Read as plain numbers on request.
    page.select_option("#series-time-unit", "number")
    expect(page.locator("#series-info")).to_contain_text("over [1796083200000000,")


def nearest_search(page):
    """The k nearest documents of a document through a vector index, with their distances."""
    api(page, "POST", "/v1/collections", {"name": "embeddings"})
    for doc in ({"_id": 1, "kind": "fruit", "emb": {"$vector": [0.9, 0.1, 0.0]}},
                {"_id": 2, "kind": "fruit", "emb": {"$vector": [0.8, 0.3, 0.1]}},
                {"_id": 3, "kind": "tool", "emb": {"$vector": [0.1, 0.9, 0.2]}}):
        api(page, "POST", "/v1/collections/embeddings/documents", doc)
    api(page, "POST", "/v1/collections/embeddings/indexes",
        {"name": "by_emb", "fields": ["emb"], "kind": "vector", "dims": 3, "metric": "cosine"})
    page.goto(BASE + "/console#/c/embeddings/nearest")
    page.select_option("#nearest-document", label="1")
    page.fill("#nearest-k", "2")
    page.click("#nearest-run")
    rows = page.locator("#result-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#result-table thead")).to_contain_text("_distance")
    expect(rows.nth(0)).to_contain_text("1")
    expect(rows.nth(1)).to_contain_text("fruit")
    expect(page.locator("#result-table")).not_to_contain_text("tool")
    shot(page, "15-nearest")


def rename_collection(page):
    """Rename from the list: the new name is asked in a dialog (the confirmation); Enter
    confirms. The documents move with it."""
    api(page, "POST", "/v1/collections", {"name": "scratch"})
    api(page, "POST", "/v1/collections/scratch/documents", {"_id": 1, "note": "kept"})
    page.goto(BASE + "/console#/")
    page.get_by_role("button", name="Rename scratch").click()
    expect(page.locator("#prompt-input")).to_be_focused()
    page.keyboard.type("scratch_renamed")
    shot(page, "16-rename")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="scratch_renamed")).to_be_visible()
    expect(page.get_by_role("link", name="scratch", exact=True)).to_have_count(0)
    # Cancelling changes nothing.
    page.get_by_role("button", name="Rename scratch_renamed").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("link", name="scratch_renamed")).to_be_visible()
    page.get_by_role("link", name="scratch_renamed").click()
    expect(page.locator("table.grid tbody tr")).to_have_count(1)
    expect(page.locator("table.grid")).to_contain_text("kept")


def index_progress(page):
    """An index built in the background: the bar appears at once with the collection's size
    (from the server's 202 answer) and follows the build to its end."""
    total = 25_000
    api(page, "POST", "/v1/collections", {"name": "many"})
    for start in range(0, total, 5_000):
        documents = [{"_id": i, "n": i % 1000} for i in range(start, start + 5_000)]
        api(page, "POST", "/v1/collections/many/batch", {"documents": documents})
    page.goto(BASE + "/console#/c/many/indexes")
    page.fill("#index-name", "by_n")
    page.fill("#index-fields", "n")
    page.get_by_role("button", name="Create index").click()
    expect(page.locator("#index-progress")).to_be_visible()
    expect(page.locator("#index-progress-bar")).to_have_attribute("max", str(total))
    shot(page, "17-index-building")
    expect(page.locator("#index-progress-text")).to_have_text(
        f"Built by_n: {total} of {total} documents, {total} entries")
    expect(page.locator("#index-progress-bar")).to_have_attribute("value", str(total))
    expect(page.locator("table.grid tbody tr")).to_contain_text("ready")
    print("index build readings drawn:", page.locator("#index-progress").get_attribute("data-seen"))
    shot(page, "18-index-built")


def migration(page):
    """A schema change the documents do not meet: saving it is refused with
    `migration_required`, the console offers it as a migration, a dry run counts the
    failures, steps fix them, and the confirmed run rewrites the documents."""
    api(page, "POST", "/v1/collections", {"name": "people"})
    for i in range(3):
        api(page, "POST", "/v1/collections/people/documents", {"_id": i, "name": f"p{i}"})
    api(page, "PUT", "/v1/collections/people/schema", {"fields": {"name": {"type": "string"}}})
    page.goto(BASE + "/console#/c/people/schema")
    expect(page.locator("main")).to_contain_text("version 1")
    stricter = {"fields": {"name": {"type": "string"}, "level": {"type": "int", "required": True}}}
    page.get_by_label("Schema", exact=True).fill(json.dumps(stricter))
    page.get_by_role("button", name="Save schema").click()
    expect(page.locator("main .error").first).to_contain_text("migration_required")
    expect(page.locator("#migration")).to_have_value(re.compile('"level"'))
    page.click("#migration-dry-run")
    expect(page.locator("#dry-run-summary")).to_have_text("3 of 3 documents would fail.")
    expect(page.locator("#migration-report")).to_contain_text("level")
    shot(page, "19-migration-dry-run", full_page=True)
    fixed = {"schema": stricter, "transform": [{"set": {"field": "level", "to": "1"}}]}
    page.fill("#migration", json.dumps(fixed, indent=2))
    page.click("#migration-dry-run")
    expect(page.locator("#dry-run-summary")).to_have_text("0 of 3 documents would fail.")
    page.click("#migration-run")
    expect(page.locator("#confirm-text")).to_contain_text("version 2")
    page.click("#confirm-ok")
    expect(page.locator("#migration-done")).to_have_text("Schema version 2 is current.")
    expect(page.locator("#migration-progress-text")).to_contain_text("3 documents rewritten")
    expect(page.locator("main")).to_contain_text("version 2,")
    expect(page.locator("main .error")).to_have_count(0)
    shot(page, "20-migration", full_page=True)


def history_after_reload(page):
    """The query history survives a reload (the token does not: log in again), and belongs
    to the user; nothing but the history is kept in the browser's storage."""
    page.goto(BASE + "/console#/c/shapes/query")
    expect(page.locator("#query-history")).to_contain_text('"$in"')
    page.reload()
    expect(page.locator("#login-user")).to_be_visible()
    log_in(page, "root", PASSWORD)
    expect(page.locator("#query-history")).to_contain_text('"$in"')
    page.locator("#query-history button").first.click()
    expect(page.get_by_label("Filter")).to_have_value(re.compile('"mesh"'))
    kept = page.evaluate("() => [Object.keys(localStorage), Object.keys(sessionStorage)]")
    assert kept == [["cairn.console.history.root"], []], f"browser storage holds {kept}"
    shot(page, "21-history-after-reload")


def insert(page, text):
    page.click("#insert-document")
    page.fill("textarea.code", text)
    page.get_by_role("button", name="Insert", exact=True).click()
    # The editor closes once the server accepted the document.
    expect(page.locator("textarea.code")).to_have_count(0)


def main():
    problems = []
    try:
        run(problems)
    finally:
        if problems:
            print("page messages:", *problems, sep="\n  ")

    refused = [p for p in problems if "Content Security Policy" in p or "Refused" in p]
    assert not refused, f"CSP violations: {refused}"
    # The server's 4xx answers the flow provokes (a refused insert) are logged as resources
    # that failed to load; anything else is a script error.
    errors = [p for p in problems if not p.startswith("Failed to load resource")]
    assert not errors, f"page errors: {errors}"
    print(f"console browser test passed; screenshots in {SHOTS}")


def run(problems):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        try:
            no_auth_steps(page) if NO_AUTH else steps(page)
        except Exception:
            shot(page, "failure")
            raise
        browser.close()


def steps(page):
    """The flow: log in, create, insert, query, explain, 3D, metrics, statistics, log out."""
    # Log in with the keyboard only: the user field has focus, Tab moves, Enter submits.
    page.goto(BASE + "/")
    assert page.url.endswith("/console"), page.url
    shot(page, "01-login")
    log_in(page, "root", PASSWORD)

    # Create a collection from the keyboard (type the name, Enter).
    page.focus("#new-collection")
    page.keyboard.type("shapes")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="shapes")).to_be_visible()
    shot(page, "02-collections")

    # Insert three shapes; a syntax error is pointed out before anything is sent, and a
    # server validation error is shown.
    page.get_by_role("link", name="shapes").click()
    page.click("#insert-document")
    page.fill("textarea.code", '{"_id": 9, "kind": }')
    expect(page.locator(".syntax")).to_contain_text("line 1")
    page.get_by_role("button", name="Insert", exact=True).click()
    page.fill("textarea.code", '{"_id": 9, "shape": {"$geometry": {"type": "box", "min": [1,1,1], "max": [0,0,0]}}}')
    page.get_by_role("button", name="Insert", exact=True).click()
    expect(page.locator(".error")).to_be_visible()
    shot(page, "03-validation-error")
    page.get_by_role("button", name="Cancel").click()
    for document in (BOX, SPHERE, MESH):
        insert(page, document)
    expect(page.locator("table.grid tbody tr")).to_have_count(3)
    page.get_by_role("button", name="Open document 1").click()
    expect(page.locator(".detail .tree").first).to_be_visible()
    shot(page, "04-documents")

    # Query from the keyboard: type the filter, Ctrl+Enter runs it.
    page.get_by_role("link", name="Query", exact=True).click()
    expect(page.get_by_label("Filter")).to_be_focused()
    page.keyboard.type('{"kind": {"$in": ["box", "mesh"]}}')
    page.keyboard.press("Control+Enter")
    expect(page.locator("#result-table tbody tr")).to_have_count(2)
    expect(page.locator("#result-count")).to_have_text("2 documents")
    shot(page, "05-query")

    page.click("#explain-query")
    expect(page.locator("#explain-plan")).to_contain_text("documents examined")
    shot(page, "06-explain")

    page.get_by_role("link", name="Schema", exact=True).click()
    expect(page.get_by_label("Schema")).to_be_visible()
    expect(page.locator("main")).to_contain_text("No invariants.")
    shot(page, "06b-schema")

    # The 3D view draws every shape; the canvas must not be blank.
    page.get_by_role("link", name="3D", exact=True).click()
    page.get_by_label("Filter").fill("{}")
    page.click("#draw-geometry")
    expect(page.locator("#geometry-info")).to_contain_text("3 documents with geometry")
    page.wait_for_timeout(500)
    lit = canvas_lit_fraction(page)
    assert lit > 0.005, f"the 3D canvas shows no shape ({lit:.4f} of its pixels lit)"
    page.focus("#geometry-canvas")
    page.keyboard.press("Shift+ArrowLeft")
    page.get_by_role("button", name="3", exact=True).click()
    expect(page.locator("#picked")).to_contain_text("mesh")
    shot(page, "07-geometry")

    page.get_by_role("link", name="Metrics").click()
    expect(page.locator("#metric-tiles")).to_contain_text("requests/s")
    shot(page, "08-metrics")

    page.get_by_role("link", name="Query stats").click()
    expect(page.locator("#query-stats")).to_contain_text("shapes")
    shot(page, "09-query-stats")

    # The change stream tails a write made elsewhere.
    page.goto(BASE + "/console#/c/shapes/changes")
    expect(page.locator("main")).to_contain_text("Waiting for changes")
    api(page, "POST", "/v1/collections/shapes/documents", {"_id": 4, "kind": "late"})
    expect(page.locator("#change-list")).to_contain_text("insert")
    shot(page, "10-changes")

    # A graph neighbourhood: a vertex's in and out edges, each vertex listed for the keyboard.
    api(page, "POST", "/v1/graph/edge-collections",
        {"name": "touches", "on_vertex_delete": "none", "vertex_collections": ["shapes"]})
    api(page, "POST", "/v1/collections/touches/documents", {"_from": "shapes/1", "_to": "shapes/2"})
    api(page, "POST", "/v1/collections/touches/documents", {"_from": "shapes/3", "_to": "shapes/1"})
    page.get_by_role("link", name="Graph").click()
    page.fill("#graph-start", "shapes/1")
    page.fill("#graph-edges", "touches")
    page.keyboard.press("Enter")
    for vertex in ("shapes/1", "shapes/2", "shapes/3"):
        expect(page.get_by_role("button", name=vertex, exact=True)).to_be_visible()
    expect(page.locator(".detail")).to_contain_text("box")
    shot(page, "11-graph")

    series_plot(page)
    dated_series_plot(page)
    nearest_search(page)
    rename_collection(page)
    index_progress(page)
    migration(page)
    history_after_reload(page)

    page.click("#logout")
    expect(page.locator("#login-user")).to_be_visible()
    shot(page, "12-logged-out")

    # A read-only user is offered no writes and no admin pages.
    api(page, "POST", "/v1/users", {"name": "reader", "password": "reader-password", "role": "read-only"})
    log_in(page, "reader", "reader-password")
    expect(page.get_by_role("link", name="shapes")).to_be_visible()
    expect(page.locator("#new-collection")).to_have_count(0)
    expect(page.get_by_role("button", name="Drop shapes")).to_have_count(0)
    expect(page.get_by_role("link", name="Metrics")).to_have_count(0)
    page.get_by_role("link", name="shapes").click()
    expect(page.locator("table.grid tbody tr")).to_have_count(4)
    expect(page.locator("#insert-document")).to_have_count(0)
    shot(page, "13-read-only")
    # The history is the user's own: root's queries are not offered to the reader.
    page.goto(BASE + "/console#/c/shapes/query")
    expect(page.locator("main")).to_contain_text("Nothing run yet.")
    # Readers follow schemas but are offered no migration.
    page.goto(BASE + "/console#/c/people/schema")
    expect(page.locator("main")).to_contain_text("version 2")
    expect(page.locator("#migration-run")).to_have_count(0)
    # Reading is enough for the plot and the nearest search.
    page.goto(BASE + "/console#/c/readings/series")
    expect(page.locator("#series-info")).to_contain_text("buckets")
    page.goto(BASE + "/console#/c/embeddings/nearest")
    expect(page.locator("#nearest-run")).to_be_visible()
    page.click("#logout")
    expect(page.locator("#login-user")).to_be_visible()

    # A user who may read only `shapes` is not offered the plot or the search elsewhere.
    api(page, "POST", "/v1/users", {"name": "shapes-only", "password": "shapes-password",
                                    "role": "none", "grants": {"shapes": "read-only"}})
    log_in(page, "shapes-only", "shapes-password")
    expect(page.get_by_role("link", name="shapes")).to_be_visible()
    expect(page.get_by_role("link", name="readings")).to_have_count(0)
    page.goto(BASE + "/console#/c/readings/series")
    expect(page.locator("main .error")).to_be_visible()
    expect(page.get_by_role("link", name="Plot", exact=True)).to_have_count(0)
    expect(page.locator("#series-plot")).to_have_count(0)
    page.goto(BASE + "/console#/c/shapes")
    expect(page.get_by_role("link", name="Plot", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Nearest", exact=True)).to_be_visible()
    page.click("#logout")
    expect(page.locator("#login-user")).to_be_visible()


def no_auth_steps(page):
    """`cairn serve --insecure-no-auth`: the console opens without a login, offers everything
    (the anonymous caller is an admin) and no logout."""
    page.goto(BASE + "/")
    expect(page.locator("#who")).to_contain_text("anonymous (admin)")
    expect(page.locator("#login-user")).to_have_count(0)
    expect(page.locator("#logout")).to_have_count(0)
    page.focus("#new-collection")
    page.keyboard.type("open")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="open")).to_be_visible()
    page.get_by_role("link", name="open").click()
    insert(page, '{"_id": 1, "kind": "box"}')
    insert(page, '{"_id": 2, "kind": "sphere"}')
    page.get_by_role("link", name="Query", exact=True).click()
    page.get_by_label("Filter").fill('{"kind": "box"}')
    page.keyboard.press("Control+Enter")
    expect(page.locator("#result-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Metrics").click()
    expect(page.locator("#metric-tiles")).to_contain_text("requests/s")
    # A reload needs no login either, and the history (the anonymous user's) is still there.
    page.goto(BASE + "/console#/c/open/query")
    page.reload()
    expect(page.locator("#query-history")).to_contain_text('"box"')
    expect(page.locator("#login-user")).to_have_count(0)
    shot(page, "01-no-auth")


if __name__ == "__main__":
    main()
