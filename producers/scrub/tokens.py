"""Well-known secret formats: private key blocks, cloud keys, git hosting tokens, JWTs, crypt hashes."""

from __future__ import annotations

__all__ = ["TOKENS"]

TOKENS = (
    (
        "private_key",
        r"(?P<v>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----)",
    ),
    ("cloud_key", r"(?P<v>\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b)"),
    ("cloud_key", r"(?P<v>\bAIza[0-9A-Za-z_\-]{35})"),
    ("git_token", r"(?P<v>\bgh[pousr]_[A-Za-z0-9]{30,255}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}\b)"),
    ("git_token", r"(?P<v>\bglpat-[A-Za-z0-9_\-]{20,}\b)"),
    ("api_token", r"(?P<v>\bxox[abposr]-[A-Za-z0-9-]{10,}\b|\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}\b)"),
    ("jwt", r"(?P<v>\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"),
    ("bearer_token", r"(?i:bearer)\s+(?P<v>[A-Za-z0-9._~+/=-]{12,})"),
    ("url_credential", r"://[^/\s:@'\"]+:(?P<v>[^@\s/'\"]+)@"),
    ("hash", r"(?P<v>\$(?:1|2[aby]?|5|6|8|9|14)\$[^\s\"':,]+)"),
)
