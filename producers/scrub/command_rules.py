"""Secret patterns in CLI lines, by device family (netconan anonymises the same families).

Each rule is ``(kind, pattern)`` whose group ``v`` is the secret. Rules run in
order; a value already replaced is skipped, so specific rules come first.
"""

from __future__ import annotations

import re

from producers.scrub.tokens import TOKENS

__all__ = ["IN_STRING_RULES", "QUOTED_VALUE", "RULES", "LITERAL_VALUE", "Rules", "build"]

QUOTED_VALUE = r'(?P<v>"[^"\n]*"|[^\s"]+)'
"""A secret on a command line: one token, or a double-quoted string (Junos)."""
LITERAL_VALUE = r"(?P<v>[^\s\"'\\,)\]}{]+)"
"""A secret inside a code string literal: never crosses a quote, so the literal stays intact."""
_REST = r"(?P<v>\S(?:[^\n]*\S)?)"
_T = r"(?:(?:0|3|4|5|6|7|8|9|sha512|sha256)\s+)?"  # Cisco/Arista encryption type before the value

_CISCO = (
    ("enable_secret", r"\benable\s+(?:secret|password)(?:\s+level\s+\d+)?\s+{T}{V}"),
    ("user_password", r"\busername\s+\S+(?:\s+(?!password\b|secret\b)\S+)*?\s+(?:password|secret)\s+{T}{V}"),
    ("snmp_community", r"\bsnmp-server\s+community\s+{V}"),
    ("snmp_community", r"\bsnmp-server\s+host\s+\S+.*?\bversion\s+(?:1|2c)\s+{V}"),
    ("snmp_auth_key", r"\bsnmp-server\s+user\b.*?\bauth\s+(?:md5|sha\S*)\s+(?:0x)?{V}"),
    ("snmp_priv_key", r"\bsnmp-server\s+user\b.*?\bpriv\s+(?:(?:des|3des|aes(?:-?\d+)?)\s+(?:\d+\s+)?)?{V}"),
    ("isakmp_key", r"\bcrypto\s+isakmp\s+key\s+{T}{V}"),
    (
        "pre_shared_key",
        r"\bpre-shared-key\s+(?:(?:local|remote|address\s+\S+(?:\s+\S+)?)\s+)?(?:key\s+)?{T}{V}",
    ),
    ("aaa_server_key", r"\b(?:tacacs-server|radius-server|tacacs|radius|server-private)\b.*?\bkey\s+{T}{V}"),
    ("key_string", r"\bkey-string\s+{T}{V}"),
    ("ntp_key", r"\bntp\s+authentication-key\s+\d+\s+(?:md5|sha1|sha256|cmac-aes-128)\s+{T}{V}"),
    ("ospf_key", r"\bmessage-digest-key\s+\d+\s+(?:md5|sha\S*)\s+{T}{V}"),
    ("ospf_key", r"\bauthentication-key\s+(?!\d+\s+(?:md5|sha\S*|cmac\S*)\b){T}{V}"),
    ("bgp_password", r"\bneighbor\s+\S+\s+password\s+{T}{V}"),
    ("wifi_psk", r"\b(?:wpa-psk|set-key)\s+(?:ascii|hex)\s+{T}{V}"),
    ("server_key", r"^\s*key\s+(?!chain\b|config-key\b|\d+\s*$){T}{V}"),
    (
        "password",
        r"(?:^|\s)(?:password|secret)\s+(?!(?:encryption|strength-check|secure-mode|prompt|policy)\b){T}{V}",
    ),
    ("hash", r"(?P<v>\$(?:1|2[aby]?|5|6|8|9|14)\$[^\s\"']+)"),
)
_IOS_REST = (  # IOS takes the rest of the line as a clear-text password
    ("enable_secret", r"\benable\s+(?:secret|password)(?:\s+level\s+\d+)?\s+{T}" + _REST),
    (
        "user_password",
        r"\busername\s+\S+(?:\s+(?!password\b|secret\b)\S+)*?\s+(?:password|secret)\s+{T}" + _REST,
    ),
)
_JUNOS = (
    ("junos_password", r"\b(?:encrypted-password|plain-text-password-value|plain-text-password)\s+{V}"),
    ("ntp_key", r"\bauthentication-key\s+\d+\s+type\s+\S+\s+value\s+{V}"),
    ("auth_key", r"\bauthentication-key\s+(?!\d+\s+type\b){V}"),
    ("pre_shared_key", r"\bpre-shared-key\s+(?:ascii-text|hexadecimal)\s+{V}"),
    ("snmp_community", r"\bsnmp\s+community\s+{V}"),
    (
        "snmp_auth_key",
        r"\bauthentication-(?:md5|sha\d*|sha224|sha256)\s+authentication-(?:password|key)\s+{V}",
    ),
    ("snmp_priv_key", r"\bprivacy-(?:aes128|des|3des)\s+privacy-(?:password|key)\s+{V}"),
    ("ospf_key", r"\b(?:md5|simple-password)\s+(?:\d+\s+)?key\s+{V}"),
    ("aaa_server_key", r"\bsecret\s+{V}"),
    ("wifi_psk", r"\b(?:psk|passphrase)\s+{V}"),
    ("hash", r"(?P<v>\$(?:1|2[aby]?|5|6|8|9|14)\$[^\s\"']+)"),
)
_LINUX = TOKENS + (
    ("cli_password", r"\bsshpass\s+(?:-[A-Za-oq-z]\S*\s+)*-p\s*{V}"),
    ("cli_password", r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^|;\n]*?\s-p(?P<v>[^\s\"']+)"),
    ("cli_password", r"--(?:password|passwd|pass)[= ]{V}"),
    ("cli_token", r"--(?:token|with-token|api-key|apikey|secret|access-key|secret-key|auth-token)[= ]{V}"),
    ("basic_auth", r"(?:\s-u|--user)\s+['\"]?[^\s:'\"]+:(?P<v>[^\s'\"@]+)"),
    ("basic_auth", r"\s-U\s+['\"]?[^\s%'\"]+%(?P<v>[^\s'\"]+)"),
    ("url_credential", r"://[^/\s:@'\"]+:(?P<v>[^@\s/'\"]+)@"),
    ("bearer_token", r"(?i:authorization):\s*(?i:bearer|basic|token)\s+(?P<v>[^\s'\"]+)"),
    (
        "env_secret",
        r"\b\w*(?i:pass(?:word|wd)?|pwd|secret|token|api_?key|access_?key)\w*=(?P<v>\"[^\"\n]*\"|'[^'\n]*'|[^\s\"']+)",
    ),
    ("cli_password", r"\bpass:(?P<v>[^\s\"']+)"),
    ("cli_password", r"\s-P\s+{V}"),
    ("wifi_psk", r"\bwpa_passphrase\s+\S+\s+{V}"),
    ("wifi_psk", r"\b(?:wifi-sec\.psk|psk)\s+{V}"),
    ("cli_password", r"\bnmcli\b.*?\bpassword\s+{V}"),
    ("cli_password", r"\bhtpasswd\s+-\w*b\w*\s+\S+\s+\S+\s+{V}"),
    ("cli_password", r"\becho\s+['\"]?[\w.-]+:(?P<v>[^\s'\"|]+)['\"]?\s*\|\s*(?:sudo\s+)?chpasswd"),
    ("cli_password", r"\becho\s+['\"]?(?P<v>[^\s'\"|]+)['\"]?\s*\|\s*sudo\s+(?:-\w+\s+)*-S"),
    ("hash", r"(?P<v>\$(?:1|2[aby]?|5|6|8|9|14)\$[^\s\"':]+)"),
)

_TRIGGER = {
    "cisco": r"(?i:pass|secret|key|community|snmp-server|psk|\$\d)",
    "junos": r"(?i:pass|secret|key|community|psk|phrase|\$\d)",
    "linux": r"(?i:pass|pwd|secret|token|key|-p|-u|://|auth|psk|\$\d|sudo|AKIA|ASIA|AIza|gh[pousr]_|glpat-|xox|eyJ)",
}
_FAMILY_OF = {
    "cisco_ios": "cisco",
    "cisco_nxos": "cisco",
    "arista_eos": "cisco",
    "juniper_junos": "junos",
    "linux": "linux",
}


Rules = tuple[tuple[str, re.Pattern[str]], ...]


def build(
    templates: tuple[tuple[str, str], ...], value: str = QUOTED_VALUE, *, ignore_case: bool = True
) -> Rules:
    """Compile rule templates with a value pattern (``{V}``) and the Cisco type prefix (``{T}``)."""
    flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
    return tuple(
        (kind, re.compile(t.replace("{T}", _T).replace("{V}", value), flags)) for kind, t in templates
    )


def _rules_for(device: str) -> tuple[re.Pattern[str], Rules]:
    family = _FAMILY_OF[device]
    templates = {"cisco": _CISCO, "junos": _JUNOS, "linux": _LINUX}[family]
    if device == "cisco_ios":
        templates = _IOS_REST + templates
    return re.compile(_TRIGGER[family]), build(templates, ignore_case=family != "linux")


RULES = {device: _rules_for(device) for device in _FAMILY_OF}
"""Device type -> (cheap trigger, ordered rules)."""
IN_STRING_RULES = (
    build(_CISCO, LITERAL_VALUE)
    + build(_JUNOS[:-1], LITERAL_VALUE)
    + build(_LINUX, LITERAL_VALUE, ignore_case=False)
)
"""Every command rule with a quote-free value: for commands quoted inside code."""
