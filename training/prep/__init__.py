"""Helpers of training/prepare.py (the v2 training-data builder), one module per concern."""
