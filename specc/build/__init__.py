"""Compiling a Plan into a build directory: stage scripts (literal-only templates), launch configs, the lock."""
