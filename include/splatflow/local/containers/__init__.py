"""The local container engine and the stage images the job runner runs, built as production builds them."""
