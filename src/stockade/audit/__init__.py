"""The auditor's replay, pure: given the log's entries in order, check that every order, cancel
and amend was signed by a key registered to its pseudonym (or by an operator for listings), and
that replaying them under the matching rules produces exactly the trades and fees the log shows.
Used by ``stockade verify``; it trusts nothing but the site's public keys."""

from stockade.audit._replay import Auditor, Finding, Report

__all__ = ["Auditor", "Finding", "Report"]
