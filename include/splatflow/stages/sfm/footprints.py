"""How far apart two photos of a GPS survey may be and still overlap: their ground footprints.

A nadir photo taken ``h`` metres above the ground covers ``h * width / focal`` by
``h * height / focal`` metres of it. Two photos whose GPS positions are further apart than the
footprint's narrow side share nothing, and pairs at the edge of that share too little to be worth
a match: matching every photo with a fixed number of neighbours either wastes pairs (a high
flight's neighbours overlap far beyond them) or misses them.

GPS altitude is above the sea, not the ground, so the height comes from the photos themselves:
each photo is first matched with its few nearest neighbours, and for each verified pair the
inlier matches are triangulated from the pair's relative pose (COLMAP computes it during
verification): the points' median depth, in lengths of the pair's baseline, times the GPS
distance between the two photos is their height above the ground. The median over the pairs is the
survey's height; the photos are then matched with every neighbour within
``(1 - min_footprint_overlap)`` of the narrowest footprint side (at most ``spatial_neighbors``).

A point's depth is its height below the camera only when the camera looks straight down. Where
the photo's XMP says how far below the horizon the camera looked (``camera_view``), each point's
drop is measured along the world's down instead, seen from the camera (gimbal roll taken as
level): the same height for an oblique survey, and the depth again for a nadir one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pycolmap

from splatflow.stages.sfm.camera_view import CameraView
from splatflow.stages.sfm.colmap_options import UNVERIFIED_CONFIGS
from splatflow.stages.sfm.photos import Photo

SEED_NEIGHBORS = 4
"""Nearest GPS neighbours each photo is matched with first (the height comes from these pairs)."""
MIN_HEIGHT_PAIRS = 3
"""Fewer verified seed pairs with a depth than this give no height."""
DEPTH_SAMPLE_STEP = 4
"""Every this-many-th inlier match of a pair is triangulated for its depth (the median needs few)."""


def horizontal_positions(photos: list[Photo]) -> dict[str, np.ndarray]:
    """Each photo's GPS position in metres east and north of the survey's mean."""
    located = [photo for photo in photos if photo.gps is not None]
    lat_lon_alt = np.array([[p.gps.latitude, p.gps.longitude, 0.0] for p in located if p.gps is not None])
    centre = lat_lon_alt.mean(axis=0)
    enu = pycolmap.GPSTransform().ellipsoid_to_enu(lat_lon_alt, centre[0], centre[1], 0.0)
    return {photo.name: enu[index, :2] for index, photo in enumerate(located)}


def height_above_ground(database: Path, photos: list[Photo]) -> float | None:
    """The survey's camera height over its ground, from the verified pairs' depths and GPS baselines."""
    positions = horizontal_positions(photos)
    views = {photo.name: photo.view for photo in photos}
    with pycolmap.Database.open(database) as db:
        names = {image.image_id: image.name for image in db.read_all_images()}
        cameras = {image.image_id: db.read_camera(image.camera_id) for image in db.read_all_images()}
        pair_ids, geometries = db.read_two_view_geometries()
        keypoints: dict[int, np.ndarray] = {}
        heights = []
        for pair_id, geometry in zip(pair_ids, geometries, strict=True):
            relative_pose = geometry.cam2_from_cam1
            if int(geometry.config) in UNVERIFIED_CONFIGS or relative_pose is None:
                continue
            first, second = pycolmap.pair_id_to_image_pair(pair_id)
            if names[first] not in positions or names[second] not in positions:
                continue
            for image_id in (first, second):
                if image_id not in keypoints:
                    keypoints[image_id] = db.read_keypoints(image_id)[:, :2].astype(np.float64)
            rays = [
                cameras[image_id].cam_from_img(keypoints[image_id][geometry.inlier_matches[::DEPTH_SAMPLE_STEP, side]])
                for side, image_id in enumerate((first, second))
            ]
            # COLMAP scales the relative pose so that the points' median depth is about 1: the
            # baseline's length in that scale turns depths into baselines.
            drop = _median_drop(relative_pose.matrix(), rays[0], rays[1], _down_in_camera(views.get(names[first])))
            scale = float(np.linalg.norm(relative_pose.translation))
            baseline = float(np.linalg.norm(positions[names[first]] - positions[names[second]]))
            if drop is not None and baseline > 0 and scale > 0:
                heights.append(drop / scale * baseline)
    return float(np.median(heights)) if len(heights) >= MIN_HEIGHT_PAIRS else None


def _down_in_camera(view: CameraView | None) -> np.ndarray:
    """The world's down in the camera's frame (x right, y down the image, z forward); nadir if unknown."""
    if view is None:
        return np.array([0.0, 0.0, 1.0])
    return np.array([0.0, math.cos(view.depression_rad), math.sin(view.depression_rad)])


def _median_drop(cam2_from_cam1: np.ndarray, rays1: np.ndarray, rays2: np.ndarray, down: np.ndarray) -> float | None:
    """Median distance of the matches below the first camera, in units of the pair's baseline."""
    cam1_from_cam1 = np.eye(3, 4)
    drops = []
    for ray1, ray2 in zip(rays1, rays2, strict=True):
        point = pycolmap.triangulate_point(cam1_from_cam1, cam2_from_cam1, ray1, ray2)
        if point is not None and point[2] > 0:
            drops.append(float(np.dot(point, down)))
    return float(np.median(drops)) if drops else None


def footprint_reach(height_m: float, photos: list[Photo], min_overlap: float) -> float:
    """The horizontal distance within which two photos' footprints overlap by at least ``min_overlap``."""
    narrowest_side = min(height_m * min(photo.width, photo.height) / photo.focal_px for photo in photos)
    return (1.0 - min_overlap) * narrowest_side
