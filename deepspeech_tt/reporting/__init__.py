"""Reporting: tables and plots that compare finished training runs."""
