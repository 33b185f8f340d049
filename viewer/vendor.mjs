// Copy the pinned PlayCanvas engine build and its orbit-camera script into the Python package,
// so the viewer page is built from files that ship with splatflow and nothing is fetched at run time.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const engine = join(here, "node_modules", "playcanvas");
const target = join(here, "..", "include", "splatflow", "viewer", "assets", "vendor");
const files = {
  "build/playcanvas.min.js": "playcanvas.min.js",
  "scripts/camera/orbit-camera.js": "orbit-camera.js",
  LICENSE: "LICENSE-playcanvas",
};

mkdirSync(target, { recursive: true });
for (const [source, name] of Object.entries(files)) {
  copyFileSync(join(engine, source), join(target, name));
}
const { version } = JSON.parse(readFileSync(join(engine, "package.json"), "utf8"));
console.log(`vendored playcanvas ${version} into ${target}`);
