// The splat viewer: loads one .sog with the PlayCanvas engine and lets the user orbit, zoom and fly.
// The .sog URL comes from the page's fragment (#sog=<url-encoded URL>), which is not part of an S3
// signature, so one presigned viewer.html opens any presigned .sog; the page may also name a default.
// The orbit-camera script is registered after this one runs, so the scene is built on DOMContentLoaded.
(function () {
  "use strict";

  var body = document.body;
  var canvas = document.getElementById("scene");
  var state = { firstFrameMs: null, frames: 0, error: null };
  window.splatViewer = state;

  function sogUrl() {
    var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    return fragment.get("sog") || body.dataset.sogUrl || "";
  }

  function fail(message) {
    state.error = message;
    var box = document.getElementById("error");
    box.textContent = message;
    box.hidden = false;
    body.dataset.state = "error";
  }

  // Decimal units, as the page's figures and the result email give sizes (splatflow.units).
  function formatSize(bytes) {
    var units = [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
    for (var i = 0; i < units.length; i++) {
      if (bytes >= units[i][1]) return (bytes / units[i][1]).toFixed(1) + " " + units[i][0];
    }
    return bytes + " bytes";
  }

  function showProgress(received, total) {
    var label = document.getElementById("progress-label");
    if (total > 0) {
      var percent = Math.min(100, Math.round((100 * received) / total));
      document.getElementById("progress-bar").style.width = percent + "%";
      document.getElementById("progress").setAttribute("aria-valuenow", String(percent));
      label.textContent = "Loading the splat… " + percent + "% of " + formatSize(total);
    } else {
      label.textContent = "Loading the splat… " + formatSize(received);
    }
  }

  // On a phone the figures would cover the scene: start with them folded away.
  if (window.matchMedia("(max-width: 600px)").matches) {
    document.getElementById("panel").open = false;
  }

  var app;
  try {
    app = new pc.Application(canvas, {
      mouse: new pc.Mouse(canvas),
      touch: new pc.TouchDevice(canvas),
      keyboard: new pc.Keyboard(window),
      graphicsDeviceOptions: { antialias: false, alpha: false },
    });
  } catch (error) {
    fail("This browser cannot show 3D scenes (WebGL is unavailable): " + error.message);
    return;
  }
  app.setCanvasFillMode(pc.FILLMODE_FILL_WINDOW);
  app.setCanvasResolution(pc.RESOLUTION_AUTO);
  window.addEventListener("resize", function () { app.resizeCanvas(); });
  app.on("frameend", function () { state.frames += 1; });
  app.start();

  // The trained splat is in the photos' camera frame (y down, z forward); turn it upright.
  var UPRIGHT = new pc.Vec3(0, 0, 180);
  var FLY_KEYS = { KEY_W: [0, 0, -1], KEY_S: [0, 0, 1], KEY_A: [-1, 0, 0], KEY_D: [1, 0, 0], KEY_Q: [0, -1, 0], KEY_E: [0, 1, 0] };

  function addCamera(center, radius) {
    var camera = new pc.Entity("camera");
    camera.addComponent("camera", { clearColor: new pc.Color(0.114, 0.122, 0.141), nearClip: radius / 1000, farClip: radius * 100 });
    camera.addComponent("script");
    app.root.addChild(camera);
    var orbit = camera.script.create("orbitCamera", { attributes: { inertiaFactor: 0.08, frameOnStart: false, distanceMin: radius / 100 } });
    camera.script.create("orbitCameraInputMouse");
    camera.script.create("orbitCameraInputTouch");
    var eye = new pc.Vec3(center.x, center.y + radius * 0.8, center.z + radius * 2.2);
    orbit.resetAndLookAtPoint(eye, center);
    return { entity: camera, orbit: orbit, radius: radius };
  }

  function flyWith(view) {
    var move = new pc.Vec3();
    app.on("update", function (dt) {
      move.set(0, 0, 0);
      Object.keys(FLY_KEYS).forEach(function (key) {
        if (app.keyboard.isPressed(pc[key])) {
          move.add(new pc.Vec3(FLY_KEYS[key][0], FLY_KEYS[key][1], FLY_KEYS[key][2]));
        }
      });
      if (move.lengthSq() === 0) return;
      view.entity.getWorldTransform().transformVector(move, move);
      move.normalize().mulScalar(view.radius * 0.5 * dt);
      view.orbit.pivotPoint = view.orbit.pivotPoint.clone().add(move);
    });
  }

  // Look at the splat as a photo's camera saw it: worldToCamera is the 4x4 row-major transform
  // from the splat's own frame to OpenCV camera axes (x right, y down, z forward), as in
  // cameras.json; the view stops orbiting until the page is reloaded.
  function showPhotoView(view, splat, worldToCamera, verticalFov) {
    var m = worldToCamera;
    var rotation = new pc.Mat4();
    var centre = new pc.Vec3();
    var toWorld = splat.getWorldTransform();
    var axes = [0, 1, 2].map(function (row) {
      return toWorld.transformVector(new pc.Vec3(m[4 * row], m[4 * row + 1], m[4 * row + 2]));
    });
    // centre = -R^T t, with R's rows the camera axes and t the last column.
    centre.set(
      -(m[0] * m[3] + m[4] * m[7] + m[8] * m[11]),
      -(m[1] * m[3] + m[5] * m[7] + m[9] * m[11]),
      -(m[2] * m[3] + m[6] * m[7] + m[10] * m[11])
    );
    toWorld.transformPoint(centre, centre);
    // PlayCanvas cameras look down -z with y up: flip OpenCV's y and z.
    var columns = [axes[0], axes[1].mulScalar(-1), axes[2].mulScalar(-1)];
    columns.forEach(function (axis, column) {
      rotation.data[4 * column] = axis.x;
      rotation.data[4 * column + 1] = axis.y;
      rotation.data[4 * column + 2] = axis.z;
    });
    view.entity.script.enabled = false;
    view.entity.setPosition(centre);
    view.entity.setRotation(new pc.Quat().setFromMat4(rotation));
    view.entity.camera.horizontalFov = false;
    view.entity.camera.fov = verticalFov;
  }

  // The box holding the middle 90% of splat centres on each axis: a trained scene's bounds
  // are stretched by a few far-off splats (sky, background), which would frame it too small.
  function coreBox(resource) {
    var centers = resource.centers;
    if (!centers || centers.length < 300) return resource.aabb;
    var count = centers.length / 3;
    var step = Math.max(1, Math.floor(count / 20000));
    var low = new pc.Vec3();
    var high = new pc.Vec3();
    ["x", "y", "z"].forEach(function (axis, offset) {
      var values = [];
      for (var i = 0; i < count; i += step) values.push(centers[3 * i + offset]);
      values.sort(function (a, b) { return a - b; });
      low[axis] = values[Math.floor(values.length * 0.05)];
      high[axis] = values[Math.floor(values.length * 0.95)];
    });
    var box = new pc.BoundingBox();
    box.setMinMax(low, high);
    return box;
  }

  function showSplat(asset) {
    var splat = new pc.Entity("splat");
    splat.addComponent("gsplat", { asset: asset });
    splat.setLocalEulerAngles(UPRIGHT);
    app.root.addChild(splat);
    var box = new pc.BoundingBox();
    box.setFromTransformedAabb(coreBox(asset.resource), splat.getWorldTransform());
    var view = addCamera(box.center.clone(), Math.max(box.halfExtents.length(), 1e-3));
    flyWith(view);
    state.camera = view;
    state.splat = splat;
    state.showPhotoView = function (worldToCamera, verticalFov) {
      showPhotoView(view, splat, worldToCamera, verticalFov);
    };
    // Ready once a frame that holds the splat has been drawn (the sorter runs after it is added).
    var framesWithSplat = 0;
    app.on("frameend", function ready() {
      framesWithSplat += 1;
      if (framesWithSplat >= 3) {
        app.off("frameend", ready);
        state.firstFrameMs = performance.now();
        body.dataset.state = "ready";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var url = sogUrl();
    if (!url) {
      fail("No splat to show: open this page with #sog=<link to a .sog file>.");
      return;
    }
    var download = document.getElementById("download");
    download.href = url;
    var asset = new pc.Asset("scene.sog", "gsplat", { url: url, filename: "scene.sog" });
    asset.on("progress", showProgress);
    asset.on("load", function () { showSplat(asset); });
    asset.on("error", function (message) {
      fail("The splat could not be loaded (" + message + "). The link may have expired; ask for a new one.");
    });
    app.assets.add(asset);
    app.assets.load(asset);
  });
})();
