"""REST access to a deployed service: who calls it, from where, with which token (issue 8)."""
