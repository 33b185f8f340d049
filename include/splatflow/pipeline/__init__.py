"""Light code the DAGs import: never imports torch, pycolmap, gsplat or ``splatflow.stages``."""
