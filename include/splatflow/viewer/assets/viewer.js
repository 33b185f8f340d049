// The splat viewer: loads one .sog with the PlayCanvas engine and lets the user orbit, zoom and fly.
// The .sog URL comes from the page's fragment (#sog=<url-encoded URL>), which is not part of an S3
// signature, so one presigned viewer.html opens any presigned .sog; the page may also name a default.
// A large model's streamed LOD bundle (#lod=<lod-meta.json URL>, or the page's default) is streamed
// instead: the engine draws the coarsest level first and sharpens chunk by chunk within a splat
// budget; if the bundle cannot be read the page falls back to the single .sog.
// The orbit-camera script is registered after this one runs, so the scene is built on DOMContentLoaded.
(function () {
  "use strict";

  var body = document.body;
  var canvas = document.getElementById("scene");
  var state = { firstFrameMs: null, frames: 0, error: null, splatsDrawn: 0, splatsChangedMs: null, streamed: null };
  window.splatViewer = state;

  var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));

  function sogUrl() {
    return fragment.get("sog") || body.dataset.sogUrl || "";
  }

  function lodUrl() {
    return fragment.get("lod") || body.dataset.lodUrl || "";
  }

  // Splats drawn at once from a streamed bundle (the engine's scene-wide budget, GSplatParams#
  // splatBudget): SuperSplat's viewer draws 1M on phones and 2M on desktops in its performance
  // mode; a phone's GPU memory and fill rate are what the budget protects.
  var PHONE = window.matchMedia("(max-width: 600px), (pointer: coarse)").matches;
  var SPLAT_BUDGET = Number(fragment.get("budget")) || (PHONE ? 1000000 : 2000000);

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
  // Splats the last frame drew (the engine's frame stats), and when that count last changed: a
  // streamed bundle has reached its detail once it stops growing.
  app.on("frameend", function () {
    state.frames += 1;
    var drawn = app.stats.frame.gsplats || 0;
    if (drawn !== state.splatsDrawn) {
      state.splatsDrawn = drawn;
      state.splatsChangedMs = performance.now();
      if (state.firstFrameMs === null && drawn > 0 && state.streamed) {
        state.firstSplats = drawn;
        markReady();
      }
    }
  });
  app.start();

  // Without a first view in the file (an older .sog, or one made elsewhere) the splat is taken to
  // be in a COLMAP frame (y down) and turned upright.
  var UPRIGHT = new pc.Vec3(0, 0, 180);
  // Where a splat is thin, the background shows through. Training composites over black and the
  // email's stills are rendered on black, so the viewer clears to black too: any other colour
  // would tint those parts (the former blue-grey added up to 7 steps of blue to a trained scene).
  var TRAINED_AGAINST = new pc.Color(0, 0, 0);
  var FLY_KEYS = { KEY_W: [0, 0, -1], KEY_S: [0, 0, 1], KEY_A: [-1, 0, 0], KEY_D: [1, 0, 0], KEY_Q: [0, -1, 0], KEY_E: [0, 1, 0] };

  // The compression stage writes the view its preview is rendered from into the bundle's
  // meta.json "extras" (the scene's up and an overview camera, in the splat's own frame). The
  // engine exposes extras on newer versions; this one keeps the parsed meta.json on its data.
  function fileExtras(resource) {
    return validExtras(resource.extras || (resource.gsplatData && resource.gsplatData.meta && resource.gsplatData.meta.extras));
  }

  function validExtras(extras) {
    var view = extras && extras.view;
    var valid = extras && Array.isArray(extras.up) && view && Array.isArray(view.position) && Array.isArray(view.target) &&
      view.horizontal_fov_degrees > 0 && view.vertical_fov_degrees > 0;
    return valid ? extras : null;
  }

  function fileAntialiased(resource) {
    return resource.antiAlias === true || !!(resource.gsplatData && resource.gsplatData.meta && resource.gsplatData.meta.antialias);
  }

  // The rotation that takes the scene's up (in the splat's frame) to the engine's +y, about
  // which the orbit camera turns.
  function uprightRotation(up) {
    var from = new pc.Vec3(up[0], up[1], up[2]).normalize();
    var axis = new pc.Vec3().cross(from, pc.Vec3.UP);
    var cosine = Math.max(-1, Math.min(1, from.dot(pc.Vec3.UP)));
    if (axis.length() < 1e-9) {
      return cosine > 0 ? new pc.Quat() : new pc.Quat().setFromAxisAngle(pc.Vec3.RIGHT, 180);
    }
    return new pc.Quat().setFromAxisAngle(axis.normalize(), Math.acos(cosine) * pc.math.RAD_TO_DEG);
  }

  // The field of view that shows at least what the preview's camera shows, on this canvas. The
  // orbit camera makes the fov vertical on a landscape canvas and horizontal on a portrait one.
  function fittingFov(view) {
    var aspect = app.graphicsDevice.width / Math.max(1, app.graphicsDevice.height);
    var halfWidth = Math.tan((view.horizontal_fov_degrees * pc.math.DEG_TO_RAD) / 2);
    var halfHeight = Math.tan((view.vertical_fov_degrees * pc.math.DEG_TO_RAD) / 2);
    var half = aspect >= 1 ? Math.max(halfHeight, halfWidth / aspect) : Math.max(halfWidth, halfHeight * aspect);
    return 2 * Math.atan(half) * pc.math.RAD_TO_DEG;
  }

  function addCamera(eye, target, radius, fov) {
    var camera = new pc.Entity("camera");
    var far = Math.max(radius, eye.distance(target)) * 100;
    var settings = { clearColor: TRAINED_AGAINST, nearClip: far / 1e5, farClip: far };
    if (fov) settings.fov = fov;
    camera.addComponent("camera", settings);
    camera.addComponent("script");
    app.root.addChild(camera);
    var orbit = camera.script.create("orbitCamera", { attributes: { inertiaFactor: 0.08, frameOnStart: false, distanceMin: radius / 100 } });
    camera.script.create("orbitCameraInputMouse");
    camera.script.create("orbitCameraInputTouch");
    orbit.resetAndLookAtPoint(eye, target);
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

  function markReady() {
    state.firstFrameMs = performance.now();
    body.dataset.state = "ready";
  }

  // The box of a streamed bundle: its tree's root bound, in the splat's frame.
  function treeBox(tree) {
    var box = new pc.BoundingBox();
    box.setMinMax(new pc.Vec3(tree.bound.min[0], tree.bound.min[1], tree.bound.min[2]),
      new pc.Vec3(tree.bound.max[0], tree.bound.max[1], tree.bound.max[2]));
    return box;
  }

  function showSplat(asset, bundle) {
    var extras = bundle ? validExtras(bundle.extras) : fileExtras(asset.resource);
    app.scene.gsplat.antiAlias = bundle ? !!(bundle.extras && bundle.extras.antialias) : fileAntialiased(asset.resource);
    var splat = new pc.Entity("splat");
    splat.addComponent("gsplat", { asset: asset });
    if (extras) {
      splat.setLocalRotation(uprightRotation(extras.up));
    } else {
      splat.setLocalEulerAngles(UPRIGHT);
    }
    app.root.addChild(splat);
    var box = new pc.BoundingBox();
    box.setFromTransformedAabb(bundle ? treeBox(bundle.tree) : coreBox(asset.resource), splat.getWorldTransform());
    var radius = Math.max(box.halfExtents.length(), 1e-3);
    var view;
    if (extras) {
      var toWorld = splat.getWorldTransform();
      var eye = toWorld.transformPoint(new pc.Vec3(extras.view.position[0], extras.view.position[1], extras.view.position[2]));
      var target = toWorld.transformPoint(new pc.Vec3(extras.view.target[0], extras.view.target[1], extras.view.target[2]));
      view = addCamera(eye, target, radius, fittingFov(extras.view));
    } else {
      var center = box.center.clone();
      view = addCamera(new pc.Vec3(center.x, center.y + radius * 0.8, center.z + radius * 2.2), center, radius, null);
    }
    state.firstView = extras ? "overview" : "bounds";
    flyWith(view);
    state.camera = view;
    state.splat = splat;
    state.showPhotoView = function (worldToCamera, verticalFov) {
      showPhotoView(view, splat, worldToCamera, verticalFov);
    };
    // A streamed bundle is ready once a frame draws its first splats (see the frameend handler).
    if (bundle) return;
    // Ready once a frame that holds the splat has been drawn (the sorter runs after it is added).
    var framesWithSplat = 0;
    app.on("frameend", function ready() {
      framesWithSplat += 1;
      if (framesWithSplat >= 3) {
        app.off("frameend", ready);
        markReady();
      }
    });
  }

  function loadSingle(url) {
    var download = document.getElementById("download");
    download.href = url;
    var asset = new pc.Asset("scene.sog", "gsplat", { url: url, filename: "scene.sog" });
    asset.on("progress", showProgress);
    asset.on("load", function () { showSplat(asset, null); });
    asset.on("error", function (message) {
      fail("The splat could not be loaded (" + message + "). The link may have expired; ask for a new one.");
    });
    app.assets.add(asset);
    app.assets.load(asset);
  }

  // The bundle's index is read here too (it is small) for the first view our compression stage
  // keeps in its extras and for the framing box; the engine then streams the chunks it names.
  function loadStreamed(url, fallback) {
    function giveUp(reason) {
      state.streamFailure = reason;
      if (fallback) {
        loadSingle(fallback);
      } else {
        fail("The streamed splat could not be loaded (" + reason + "). The link may have expired; ask for a new one.");
      }
    }
    fetch(url).then(function (reply) {
      if (!reply.ok) throw new Error("HTTP " + reply.status);
      return reply.json();
    }).then(function (bundle) {
      if (!bundle || !bundle.tree || !bundle.tree.bound || !(bundle.lodLevels > 0)) throw new Error("not a lod-meta.json");
      state.streamed = { levels: bundle.lodLevels, counts: bundle.counts || [], budget: SPLAT_BUDGET };
      document.getElementById("progress-label").textContent = "Streaming the splat, coarse levels first…";
      if (fallback) document.getElementById("download").href = fallback;
      app.scene.gsplat.splatBudget = SPLAT_BUDGET;
      // Draw a coarser level where the one the budget calls for has not arrived yet (GSplatParams#
      // lodUnderfillLimit, 0 by default: the engine would wait for the finest, drawing nothing):
      // this is what puts the coarsest level on screen first and sharpens it chunk by chunk.
      app.scene.gsplat.lodUnderfillLimit = bundle.lodLevels - 1;
      // On a phone, judge oversized chunks (sky, far background) by their middle: the engine's
      // documented setting for the lowest memory use (GSplatParams#lodDistanceShrink).
      if (PHONE) app.scene.gsplat.lodDistanceShrink = 1;
      var asset = new pc.Asset("lod-meta.json", "gsplat", { url: url, filename: "lod-meta.json" });
      asset.on("load", function () { showSplat(asset, bundle); });
      asset.on("error", function (message) { state.streamed = null; giveUp(String(message)); });
      app.assets.add(asset);
      app.assets.load(asset);
    }).catch(function (error) { giveUp(error.message); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var streamed = lodUrl();
    var single = sogUrl();
    if (!streamed && !single) {
      fail("No splat to show: open this page with #sog=<link to a .sog file>.");
      return;
    }
    if (streamed) {
      loadStreamed(streamed, single);
    } else {
      loadSingle(single);
    }
  });
})();
