"""The customer-success report: one self-contained HTML file built from the project's gates."""

from poc2prod.report._html import build_report

__all__ = ["build_report"]
