"""A parent's children: records of their parent, and their ages in whole months."""
