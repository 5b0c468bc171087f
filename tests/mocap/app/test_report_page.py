"""The session report: degradation when artifacts are absent, and the page as a browser
renders it (Debian's headless Chromium, driven over the DevTools protocol)."""
from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from mocap.app.cli import main as cli_main
from mocap.app.pipeline import run
from mocap.app.report import find_video, gather_inputs, render_report, write_report
from mocap.app.studio import write_session
from mocap.report import reprojection_errors_px
from mocap.simulate import Actor, ErrorModel, simulate_take

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# the other export formats are tested with the exporters; BVH is enough here
ONLY_BVH = {"export": {"formats": ["bvh"]}}


@pytest.fixture(scope="module")
def session_run(tmp_path_factory, studio4):
    """A 40-frame noisy walk, run through the pipeline, with videos for two cameras."""
    take = simulate_take(studio4, [Actor("walk", seed=1)], 40, 30.0, "body25", ErrorModel(),
                         seed=3)
    root = write_session(tmp_path_factory.mktemp("report") / "s", studio4, take,
                         settings=ONLY_BVH)
    run(root)
    _write_videos(root, studio4, ("cam1",), 40)
    _write_videos(root, studio4, ("cam3",), 12)     # shorter than the take
    return root, take


@pytest.fixture(scope="module")
def report_file(session_run, tmp_path_factory):
    """The full report of ``session_run``, rendered once for the tests that read it."""
    root, _ = session_run
    return write_report(root, tmp_path_factory.mktemp("page") / "report.html",
                        overlay_frames=4, overlay_width_px=220)


def _write_videos(root: Path, rig, names, frames: int) -> None:
    """Small MJPG videos (a quarter of the camera's size): a grey gradient with the frame
    number, standing in for footage."""
    import cv2
    (root / "videos").mkdir(exist_ok=True)
    for name in names:
        W, H = rig[name].size_wh
        w, h = W // 4, H // 4
        out = cv2.VideoWriter(str(root / "videos" / f"{name}.avi"),
                              cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
        assert out.isOpened()
        ramp = np.tile(np.linspace(60, 200, w, dtype=np.uint8), (h, 1))
        for f in range(frames):
            img = np.dstack([ramp, ramp, ramp]).copy()
            cv2.putText(img, f"{f}", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
            out.write(img)
        out.release()


# ----------------------------------------------------------------------------- the page

def test_report_page_has_every_section_and_no_external_address(report_file):
    page = report_file.read_text()
    for section in ("summary", "calibration", "reprojection", "views", "bones", "angles",
                    "trajectories", "overlays", "contacts"):
        assert f'<section id="{section}">' in page
    assert "Not available" not in page
    assert not re.search(r"<script|<link|<iframe|<object|url\(", page, re.I)
    srcs = re.findall(r'\ssrc="([^"]*)"', page)
    hrefs = re.findall(r'\shref="([^"]*)"', page)
    assert srcs and all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,"))
                        for s in srcs)
    assert hrefs and all(h.startswith("#") for h in hrefs)
    assert "http" not in re.sub(r'src="data:[^"]*"', "", page)
    # 4 cameras x 4 frames of overlays, plus the plots
    assert page.count('class="thumb"') == 16
    # plots: plan view, 2 of reprojection, views, bones, angles, trajectories, biomechanics,
    # foot contacts
    assert page.count('class="plot"') == 9
    assert "frames in contact (%)" in page
    assert "cam1.avi (4/4 frames read)" in page and "cam3.avi (1/4 frames read)" in page
    assert "cam2: no video, blank canvas" in page
    assert "person 0" in page


def test_report_says_what_is_missing(tmp_path, studio4, clean_take):
    """No pipeline output at all: the page is still written and names what is absent."""
    root = write_session(tmp_path / "s", studio4, clean_take)
    path = write_report(root)
    page = path.read_text()
    assert path == root / "out" / "report.html"
    assert "no manifest" in page
    assert page.count("Not available") >= 5      # bones, angles, trajectories, overlays, ...
    assert "<table>" in page                       # the calibration table is there
    # a manifest listing an artifact that is not on disk, and one without the 3D result
    (root / "out" / "manifest.json").write_text(json.dumps(
        {"artifacts": {"points3d_raw": "points3d_raw.npz"}, "people": []}))
    inp = gather_inputs(root)
    assert inp.points is None and inp.raw is None and inp.detections is not None
    page = html.unescape(render_report(inp))
    assert "MISSING" in page and "not produced ('points3d' is not in the manifest)" in page
    assert "points3d_raw: points3d_raw.npz is listed in the manifest but is not in" in page


def test_reprojection_uses_the_detections_re_timed_by_the_sync_stage(tmp_path, studio4):
    """Cameras that run late: compared frame by frame without the offsets, the late cameras'
    detections would be off by the motion of several frames."""
    offsets = [0, 3, -2, 5]
    take = simulate_take(studio4, [Actor("walk", seed=3)], 60, 30.0, "body25", ErrorModel(),
                         seed=0, camera_offsets=offsets)
    root = write_session(tmp_path / "s", studio4, take, settings=ONLY_BVH)
    run(root)
    inp = gather_inputs(root)
    assert inp.offsets.tolist() == offsets and "re-timed" in inp.detections_source
    min_conf = inp.settings.triangulate.min_conf
    err = reprojection_errors_px(inp.rig, inp.points.xyz, inp.detections.xy,
                                 inp.detections.conf, min_conf)
    med = np.nanmedian(err.reshape(4, -1), 1)
    assert (med < 5).all(), med
    from mocap.app.detections import session_detections
    raw = session_detections(inp.session, inp.rig, inp.settings)
    err_raw = reprojection_errors_px(inp.rig, inp.points.xyz, raw.xy, raw.conf, min_conf)
    med_raw = np.nanmedian(err_raw.reshape(4, -1), 1)
    assert med_raw[0] == pytest.approx(med[0]) and med_raw[3] > 3 * med[3]
    # detections listed in the manifest are those triangulated: used as they are, not
    # shifted a second time
    inp.detections.save(root / "out" / "used.npz")
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    manifest["artifacts"]["detections"] = "used.npz"
    (root / "out" / "manifest.json").write_text(json.dumps(manifest))
    again = gather_inputs(root)
    assert again.detections_source == "out/used.npz" and again.detections_retimed
    np.testing.assert_array_equal(again.detections.xy, inp.detections.xy)


def test_reprojection_matches_people_as_the_association_did(tmp_path, studio4):
    """Two people, listed in the opposite order by one camera: the report pairs each 3D
    person with its own 2D detections through the association's identities."""
    take = simulate_take(studio4, [Actor("walk", seed=3, xy_offset_m=(0.0, 1.0)),
                                   Actor("squat", seed=5, height_m=1.6,
                                         xy_offset_m=(0.5, -1.0))],
                         40, 30.0, "body25", ErrorModel(), seed=0)
    det = take.detections
    xy, conf = det.xy.copy(), det.conf.copy()
    xy[1], conf[1] = det.xy[1][:, ::-1], det.conf[1][:, ::-1]          # cam2 lists them swapped
    take.detections = det.replace(xy=xy, conf=conf)
    root = write_session(tmp_path / "s", studio4, take, settings=ONLY_BVH)
    run(root)
    inp = gather_inputs(root)
    assert "identities" in inp.detections_source
    assert inp.detections.shape[1:] == inp.points.xyz.shape[:3]
    err = reprojection_errors_px(inp.rig, inp.points.xyz, inp.detections.xy,
                                 inp.detections.conf, 0.2)
    assert (np.nanmedian(err.reshape(4, -1), 1) < 5).all()
    from mocap.app.detections import session_detections
    raw = session_detections(inp.session, inp.rig, inp.settings)
    assert raw.shape == inp.detections.shape     # two people, in the detector's order
    err_raw = reprojection_errors_px(inp.rig, inp.points.xyz, raw.xy, raw.conf, 0.2)
    assert np.nanmedian(err_raw[1]) > 10 * np.nanmedian(err[1])      # cam2 is off


def test_report_command_writes_the_page(studio4, clean_take, tmp_path, capsys):
    root = write_session(tmp_path / "s", studio4, clean_take)
    out = tmp_path / "r.html"
    assert cli_main(["report", str(root), "--out", str(out), "--frames", "2"]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert cli_main(["report", str(tmp_path / "nope")]) == 2


def test_find_video(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "c1.MP4").write_bytes(b"")
    assert find_video(tmp_path, "c1") == tmp_path / "videos" / "c1.MP4"
    assert find_video(tmp_path, "c2") is None


# ----------------------------------------------------------------------------- browser

class _Chromium:
    """Debian's Chromium, headless, driven over the DevTools protocol (websocket)."""

    FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--enable-logging=stderr", "--v=0", "--remote-debugging-port=0",
             "--remote-allow-origins=*", "--window-size=1400,3000"]

    def __init__(self, profile: Path):
        self.profile = profile
        self.log = open(profile.parent / "chromium.log", "w+")
        self.proc = subprocess.Popen([CHROMIUM, *self.FLAGS, f"--user-data-dir={profile}",
                                      "about:blank"], stdout=self.log, stderr=self.log)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start: {self.stderr()[-2000:]}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                                   timeout=30))
        page = next(t for t in targets if t["type"] == "page")
        import websocket
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def stderr(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str, timeout_s: float = 60) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {p.get('args')}")
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - the browser may close the socket first
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                             "(scripts/setup_venv.sh installs it)")
def test_report_renders_in_headless_chromium_without_console_errors(report_file, tmp_path):
    pytest.importorskip("websocket", reason="websocket-client (test extra) is not installed")
    path = report_file
    browser = _Chromium(Path(tempfile.mkdtemp(dir=tmp_path, prefix="profile")))
    try:
        browser.call("Page.enable")
        browser.call("Runtime.enable")
        browser.call("Log.enable")
        browser.call("Emulation.setDeviceMetricsOverride", width=1400, height=3000,
                     deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", url=path.resolve().as_uri())
        browser.wait_event("Page.loadEventFired")
        state = browser.call("Runtime.evaluate", returnByValue=True, expression="""
            JSON.stringify({
              images: document.images.length,
              broken: Array.from(document.images).filter(
                  i => !i.complete || i.naturalWidth === 0).length,
              plots: document.querySelectorAll('img.plot').length,
              sections: document.querySelectorAll('section h2').length,
              height: document.body.scrollHeight,
              title: document.title})""")["result"]["value"]
        state = json.loads(state)
        shot = browser.call("Page.captureScreenshot", format="png")
        errors = browser.errors()
        log_text = browser.stderr()
    finally:
        browser.close()
    assert errors == [], errors
    assert state["broken"] == 0 and state["images"] == 16 + 9, state
    assert state["sections"] == 10 and "Motion capture report" in state["title"]
    assert state["height"] > 3000
    png = base64.b64decode(shot["data"])
    screenshot = Path(os.environ.get("MOCAP_REPORT_SCREENSHOT", tmp_path / "report.png"))
    screenshot.write_bytes(png)
    import cv2
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[:2] == (3000, 1400)
    # the plots are drawn: many strongly coloured pixels (matplotlib's blue and orange)
    b, g, r = (img[..., i].astype(int) for i in range(3))
    colourful = (np.abs(r - b) > 60) | (np.abs(g - b) > 60)
    assert colourful.mean() > 0.01
    # the browser's own log (--enable-logging=stderr) agrees: no console error line
    assert not re.search(r"CONSOLE.*(error|Uncaught)", log_text, re.I), log_text[-2000:]
