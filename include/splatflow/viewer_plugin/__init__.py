"""The splat viewer inside Airflow: the app the API server mounts and the "View splat" task link.

Above ``splatflow.pipeline`` (it finds a run's manifest the way the pipeline writes it), unlike
the page itself (``splatflow.viewer``), which the pipeline publishes with every run. The
``plugins/splat_viewer.py`` Airflow plugin registers both parts.
"""
