"""Running a build: the stage runner, its manifest, progress lines and status."""
