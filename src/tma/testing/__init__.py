"""Test-support tooling shipped with the TMA backend (pytest plugins and helpers)."""
