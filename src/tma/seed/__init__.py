"""Invented sample data (CSV files shipped in the package) and its loader."""
