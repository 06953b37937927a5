#!/usr/bin/env python
"""Placeholder: replaced by the Papermill driver."""
