"""Tests of the build tooling: layer builds, trims and their checks, the size check, the built-artifact smoke test."""
