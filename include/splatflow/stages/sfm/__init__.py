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
    report.json            photos received/decoded/registered, skipped files and why,
                           cameras, points, mean reprojection error, mean track length,
                           matching, geo-registration (ENU origin), timings, settings

When the photos carry GPS the model is in metres in a local east-north-up frame (z up) whose
origin is ``report.json``'s ``georegistration.origin``; otherwise its frame is arbitrary.

On failure the stage writes the reason to ``/opt/ml/output/failure`` and exits non-zero.
"""
