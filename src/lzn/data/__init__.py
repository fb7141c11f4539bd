"""Data sets: built-in offline ones (scikit-learn's digits) for now."""
