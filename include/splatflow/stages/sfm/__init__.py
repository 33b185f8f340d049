"""The SfM stage: a ZIP of drone photos to a COLMAP model ready for 3DGS training.

Runs as a SageMaker Processing job (``python -m splatflow.stages.sfm --name value …``; see
``splatflow.contract.sfm_settings.Settings`` for every argument).

Input: exactly one ``.zip`` anywhere under ``/opt/ml/processing/input``, holding ``.jpg``,
``.jpeg`` or ``.png`` photos (any letter case, any folders).

Output, under ``/opt/ml/processing/output`` — complete or absent, never partial::

    sparse/cameras.bin     COLMAP binary model; every camera is PINHOLE (undistorted)
    sparse/images.bin      one entry per registered photo, named by its path inside the ZIP
    sparse/points3D.bin    sparse points with colours (the splat's initialisation)
    sparse/rigs.bin, sparse/frames.bin   COLMAP 4 rig bookkeeping (trivial rigs)
    images/<name>          the undistorted photo for each entry of images.bin, same relative
                           name (folders inside the ZIP are kept), at most
                           ``image_max_size`` pixels on the longest side
    report.json            photos received/decoded/registered/removed, skipped files and why
                           (photos removed as badly placed included), cameras, points, mean
                           reprojection error, mean track length, extraction, matching,
                           geo-registration (ENU origin, tilts, residuals), timings, settings

Only photos the model holds reach the output: a photo resting on too few points, or placed far
from its GPS position against the survey's own residuals, is removed before triangulation and
undistortion (``placement``). When the photos carry GPS the model is in metres in a local
east-north-up frame (z up) whose origin is ``report.json``'s ``georegistration.origin``; its up
follows the GPS altitudes only where they agree with the model's own up (``georegister``).
Without GPS its frame is arbitrary.

On failure the stage writes the reason to ``/opt/ml/output/failure`` and exits non-zero.
"""
