// The 3D view of query results: every `$geometry` value of the matching documents drawn with
// three.js (orbit controls: drag to turn, wheel to zoom, right-drag to pan). All triangles go
// into one buffer (thousands of shapes stay one draw call) with, per triangle, the document it
// came from, so a click on a shape opens its document. A list of the documents under the
// canvas gives the same choice from the keyboard.

import {
  WebGLRenderer, Scene, PerspectiveCamera, BufferGeometry, Float32BufferAttribute, Mesh,
  MeshLambertMaterial, LineSegments, LineBasicMaterial, Points, PointsMaterial, AmbientLight,
  DirectionalLight, Raycaster, Vector2, Vector3, Box3, Color, IcosahedronGeometry, DoubleSide,
  GridHelper, OrbitControls,
} from "../../vendor/three.min.js";
import { call, seg } from "../api.js";
import { h, replace, errorBox } from "../dom.js";
import { jsonEditor, jsonTree, pretty, cellText } from "../json.js";
import { currentFilter } from "./query.js";

/** Documents fetched for one picture (the server pages beyond). */
const MAX_DOCUMENTS = 5000;
const PALETTE = [0x4e79a7, 0xf28e2b, 0x59a14f, 0xe15759, 0x76b7b2, 0xedc948, 0xb07aa1, 0xff9da7];
const SELECTED = new Color(0xffffff);

/** Renders the 3D view of `collection`; returns the function that frees the WebGL context. */
export async function render(main, { collection }) {
  const filter = jsonEditor("Filter", pretty(currentFilter(collection)), { rows: 2, fallback: {} });
  const canvasBox = h("div.canvas3d");
  const info = h("p.meta#geometry-info", { "aria-live": "polite" });
  const picked = h("div.detail#picked");
  const list = h("div.shapes");
  let scene = null;
  const draw = async () => {
    let value;
    try {
      value = filter.read();
    } catch {
      return;
    }
    if (scene) scene.dispose();
    scene = null;
    try {
      const result = await call("POST", `/v1/collections/${seg(collection)}/query`, { filter: value, limit: MAX_DOCUMENTS });
      const shapes = collect(result.documents);
      info.textContent = `${shapes.documents.length} documents with geometry, ${shapes.triangleCount} triangles, ${shapes.segmentCount} segments, ${shapes.pointCount} points${result.cursor ? ` (first ${MAX_DOCUMENTS} documents)` : ""}`;
      const open = (index) => {
        scene?.highlight(index);
        const doc = shapes.documents[index];
        replace(picked, h("h2", {}, `Document ${cellText(doc._id)}`), jsonTree(doc));
      };
      scene = makeScene(canvasBox, shapes, open);
      replace(list, shapes.documents.length
        ? h("ol", {}, shapes.documents.map((doc, i) => h("li", {}, h("button.link", { onclick: () => open(i) }, cellText(doc._id)))))
        : null);
    } catch (error) {
      replace(picked, errorBox(error));
    }
  };
  replace(main, h("h1", {}, `3D view of ${collection}`), filter,
    h("div.actions", {}, h("button.primary#draw-geometry", { onclick: draw }, "Draw")),
    info, canvasBox, picked, h("h2", {}, "Shapes by document"), list);
  await draw();
  return () => scene?.dispose();
}

/** Walks the documents for `$geometry` values and flattens them into buffers. */
function collect(documents) {
  const out = {
    documents: [], triangles: [], triangleDoc: [], segments: [], points: [],
    triangleCount: 0, segmentCount: 0, pointCount: 0,
  };
  for (const doc of documents) {
    const index = out.documents.length;
    let found = false;
    const visit = (value) => {
      if (value === null || typeof value !== "object") return;
      if (!Array.isArray(value) && value.$geometry) {
        found = true;
        addShape(out, value.$geometry, index);
        return;
      }
      for (const child of Object.values(value)) visit(child);
    };
    visit(doc);
    if (found) out.documents.push(doc);
  }
  out.triangleCount = out.triangleDoc.length;
  out.segmentCount = out.segments.length / 6;
  out.pointCount = out.points.length / 3;
  return out;
}

const UNIT_SPHERE = new IcosahedronGeometry(1, 2).toNonIndexed().getAttribute("position");

function addTriangle(out, a, b, c, index) {
  out.triangles.push(...a, ...b, ...c);
  out.triangleDoc.push(index);
}

function addShape(out, g, index) {
  switch (g.type) {
    case "point":
      out.points.push(...g.coordinates);
      break;
    case "segment":
      out.segments.push(...g.coordinates[0], ...g.coordinates[1]);
      break;
    case "triangle":
      addTriangle(out, ...g.coordinates, index);
      break;
    case "mesh":
      for (const [i, j, k] of g.triangles) addTriangle(out, g.vertices[i], g.vertices[j], g.vertices[k], index);
      break;
    case "box":
      addBox(out, g.min, g.max, index);
      break;
    case "sphere":
      for (let v = 0; v < UNIT_SPHERE.count; v += 3) {
        const corner = (n) => [0, 1, 2].map((axis) => g.center[axis] + g.radius * UNIT_SPHERE.getComponent(v + n, axis));
        addTriangle(out, corner(0), corner(1), corner(2), index);
      }
      break;
    default:
      break;
  }
}

function addBox(out, min, max, index) {
  const p = (x, y, z) => [x ? max[0] : min[0], y ? max[1] : min[1], z ? max[2] : min[2]];
  const faces = [
    [p(0, 0, 0), p(1, 0, 0), p(1, 1, 0), p(0, 1, 0)], [p(0, 0, 1), p(0, 1, 1), p(1, 1, 1), p(1, 0, 1)],
    [p(0, 0, 0), p(0, 0, 1), p(1, 0, 1), p(1, 0, 0)], [p(0, 1, 0), p(1, 1, 0), p(1, 1, 1), p(0, 1, 1)],
    [p(0, 0, 0), p(0, 1, 0), p(0, 1, 1), p(0, 0, 1)], [p(1, 0, 0), p(1, 0, 1), p(1, 1, 1), p(1, 1, 0)],
  ];
  for (const [a, b, c, d] of faces) {
    addTriangle(out, a, b, c, index);
    addTriangle(out, a, c, d, index);
  }
}

/** Builds the three.js scene in `box`; returns `{highlight(index), dispose()}`. */
function makeScene(box, shapes, onPick) {
  const renderer = new WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  const width = box.clientWidth || 800;
  const height = 480;
  renderer.setPixelRatio(window.devicePixelRatio);
  renderer.setSize(width, height);
  renderer.setClearColor(0x1d232a);
  renderer.domElement.id = "geometry-canvas";
  renderer.domElement.setAttribute("aria-label",
    "3D view; drag or Shift+arrow keys to turn, arrow keys to pan, wheel to zoom");
  renderer.domElement.tabIndex = 0;
  replace(box, renderer.domElement);
  const scene = new Scene();
  scene.add(new AmbientLight(0xffffff, 0.6));
  const sun = new DirectionalLight(0xffffff, 1.8);
  sun.position.set(1, 2, 3);
  scene.add(sun);

  const colors = new Float32Array(shapes.triangles.length);
  const paint = (selected) => {
    const color = new Color();
    shapes.triangleDoc.forEach((doc, t) => {
      color.setHex(PALETTE[doc % PALETTE.length]);
      const c = doc === selected ? SELECTED : color;
      for (let v = 0; v < 3; v += 1) colors.set([c.r, c.g, c.b], (t * 3 + v) * 3);
    });
  };
  paint(-1);
  const geometry = new BufferGeometry();
  geometry.setAttribute("position", new Float32BufferAttribute(shapes.triangles, 3));
  geometry.setAttribute("color", new Float32BufferAttribute(colors, 3));
  geometry.computeVertexNormals();
  const mesh = new Mesh(geometry, new MeshLambertMaterial({ vertexColors: true, side: DoubleSide }));
  scene.add(mesh);
  const extras = [];
  if (shapes.segments.length) {
    const lines = new BufferGeometry();
    lines.setAttribute("position", new Float32BufferAttribute(shapes.segments, 3));
    extras.push(new LineSegments(lines, new LineBasicMaterial({ color: 0xe0e0e0 })));
  }
  if (shapes.points.length) {
    const dots = new BufferGeometry();
    dots.setAttribute("position", new Float32BufferAttribute(shapes.points, 3));
    extras.push(new Points(dots, new PointsMaterial({ color: 0xffd166, size: 4, sizeAttenuation: false })));
  }
  extras.forEach((o) => scene.add(o));

  const bounds = new Box3().setFromObject(scene);
  const center = bounds.isEmpty() ? new Vector3() : bounds.getCenter(new Vector3());
  const size = bounds.isEmpty() ? 10 : Math.max(1e-6, bounds.getSize(new Vector3()).length());
  const grid = new GridHelper(size * 2, 20, 0x44505c, 0x2c353f);
  grid.position.set(center.x, bounds.isEmpty() ? 0 : bounds.min.y, center.z);
  scene.add(grid);
  const camera = new PerspectiveCamera(50, width / height, size / 1000, size * 100);
  camera.position.copy(center).add(new Vector3(size * 0.8, size * 0.6, size * 0.9));
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.target.copy(center);
  // Keyboard use: with the canvas focused, arrows pan and Shift+arrows turn.
  controls.listenToKeyEvents(renderer.domElement);
  controls.update();

  let frame = 0;
  const drawFrame = () => {
    frame = 0;
    renderer.render(scene, camera);
  };
  const requestDraw = () => {
    if (!frame) frame = requestAnimationFrame(drawFrame);
  };
  controls.addEventListener("change", requestDraw);
  drawFrame();

  const ray = new Raycaster();
  const pointer = new Vector2();
  let down = null;
  renderer.domElement.addEventListener("pointerdown", (e) => (down = [e.clientX, e.clientY]));
  renderer.domElement.addEventListener("pointerup", (e) => {
    if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4) return;
    const rect = renderer.domElement.getBoundingClientRect();
    pointer.set(((e.clientX - rect.left) / rect.width) * 2 - 1, -((e.clientY - rect.top) / rect.height) * 2 + 1);
    ray.setFromCamera(pointer, camera);
    const hit = ray.intersectObject(mesh)[0];
    if (hit) onPick(shapes.triangleDoc[hit.faceIndex]);
  });
  return {
    highlight(index) {
      paint(index);
      geometry.getAttribute("color").array.set(colors);
      geometry.getAttribute("color").needsUpdate = true;
      requestDraw();
    },
    dispose() {
      if (frame) cancelAnimationFrame(frame);
      controls.dispose();
      geometry.dispose();
      extras.forEach((o) => o.geometry.dispose());
      renderer.dispose();
      renderer.forceContextLoss();
    },
  };
}
