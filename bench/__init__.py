"""The performance harness behind `make bench` (never imported by the product)."""
