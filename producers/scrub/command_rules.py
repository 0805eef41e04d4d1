"""Secret patterns in CLI lines, by device family (netconan anonymises the same families).

Each rule is ``(kind, pattern)`` whose group ``v`` is the secret. Rules run in
order; a value already replaced is skipped, so specific rules come first.
"""

from __future__ import annotations

import re

from producers.scrub.tokens import TOKENS

__all__ = ["IN_STRING_RULES", "LITERAL_VALUE", "QUOTED_VALUE", "RULES", "RuleSet", "Rules", "build", "marker"]

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

_TRIGGER = {  # lower-case words of which a line with a secret contains at least one
    "cisco": ("pass", "secret", "key", "community", "snmp-server", "psk", "$"),
    "junos": ("pass", "secret", "key", "community", "psk", "phrase", "$"),
    "linux": ("pass", "pwd", "secret", "token", "key", "-p", "-u", "://", "auth", "psk", "$", "sudo",
              "akia", "asia", "aiza", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat", "glpat-", "xox",
              "eyj", "%"),
}  # fmt: skip
_FAMILY_OF = {
    "cisco_ios": "cisco",
    "cisco_nxos": "cisco",
    "arista_eos": "cisco",
    "juniper_junos": "junos",
    "linux": "linux",
}


Rules = tuple[tuple[str, re.Pattern[str], tuple[str, ...] | None], ...]


def marker(kind: str) -> str:
    """The fixed text that replaces a secret of one kind."""
    return f"<redacted:{kind}>"


_LEADING_WORD = re.compile(r"^(?:\\b|\^\\s\*)?([A-Za-z][A-Za-z0-9_-]{2,})")
_LEADING_ALTERNATIVES = re.compile(
    r"^(?:\\b|\(\?:\^\|\\s\))?\(\?:((?:[a-z][a-z0-9_-]*\|)+[a-z][a-z0-9_-]*)\)"
)
_NEEDLES_BY_FRAGMENT = (  # templates whose required words the two patterns above cannot see
    ("(?P<v>\\$(?:1|", ("$",)),
    ("-----BEGIN", ("-----begin",)),
    ("(?:AKIA|ASIA", ("akia", "asia", "agpa", "aida", "aroa")),
    ("AIza", ("aiza",)),
    ("gh[pousr]_", ("gh",)),
    ("glpat-", ("glpat-",)),
    ("xox[", ("xox", "k_live", "k_test")),
    ("eyJ", ("eyj",)),
    ("(?i:bearer)", ("bearer",)),
    ("(?i:authorization)", ("authorization",)),
    ("://", ("://",)),
    (
        "(?i:pass(?:word|wd|phrase)",
        ("pass", "pwd", "secret", "token", "key", "credential", "community", "psk"),
    ),
    ("(?i:pass(?:word|wd)?|pwd", ("=",)),
    ("@[A-Za-z0-9-]+", ("@",)),
    ("--(?:", ("--",)),
    ("(?:\\s-u|--user)", ("-u", "--user")),
    ("\\s-U\\s", ("%",)),
    ("\\s-P\\s", ("-p",)),
    ("wifi-sec", ("psk",)),
)


def needles(template: str) -> tuple[str, ...] | None:
    """Lower-case words one of which a match must contain: a cheap ``in`` test before the regex."""
    for fragment, words in _NEEDLES_BY_FRAGMENT:
        if fragment in template:
            return words
    if m := _LEADING_WORD.match(template):
        return (m.group(1).lower(),)
    if m := _LEADING_ALTERNATIVES.match(template):
        return tuple(m.group(1).split("|"))
    return None


class RuleSet:
    """Ordered rules indexed by needle: only rules one of whose needles is in the text are tried.

    ``prepared[i]`` is ``(kind, pattern, marker, has_name)`` for the engine's hot loop. Which rules a
    text activates is a bit mask over the rules; the mask's list of indices is memoised (keys are
    masks of needle words, never text).
    """

    __slots__ = ("_always", "_by_mask", "_needle_bits", "always", "by_needle", "prepared", "rules")

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.by_needle: dict[str, list[int]] = {}
        self.always: set[int] = set()
        for i, (_, _, words) in enumerate(rules):
            if words is None:
                self.always.add(i)
            for w in words or ():
                self.by_needle.setdefault(w, []).append(i)
        self._always = sum(1 << i for i in self.always)
        self._needle_bits = tuple((w, sum(1 << i for i in idx)) for w, idx in self.by_needle.items())
        self._by_mask: dict[int, tuple[int, ...]] = {}
        self.prepared = tuple(
            (kind, pattern, marker(kind), "n" in pattern.groupindex) for kind, pattern, _ in rules
        )

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.rules + other.rules)

    def active(self, low: str) -> tuple[int, ...]:
        """Indices, in order, of the rules that may match the lower-cased text."""
        mask = self._always
        for w, bits in self._needle_bits:
            if w in low:
                mask |= bits
        hit = self._by_mask.get(mask)
        if hit is None:
            hit = tuple(i for i in range(len(self.rules)) if mask >> i & 1)
            if len(self._by_mask) < 4096:  # at most 2**needles masks; bounded regardless
                self._by_mask[mask] = hit
        return hit


def build(
    templates: tuple[tuple[str, str], ...], value: str = QUOTED_VALUE, *, ignore_case: bool = True
) -> RuleSet:
    """Compile rule templates with a value pattern (``{V}``) and the Cisco type prefix (``{T}``)."""
    flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
    return RuleSet(
        tuple(
            (
                kind,
                re.compile(
                    t.replace("{T}", _T).replace("{V}", value), flags | re.DOTALL * (kind == "private_key")
                ),
                needles(t),
            )
            for kind, t in templates
        )
    )


def _rules_for(device: str) -> tuple[tuple[str, ...], RuleSet]:
    family = _FAMILY_OF[device]
    templates = {"cisco": _CISCO, "junos": _JUNOS, "linux": _LINUX}[family]
    if device == "cisco_ios":
        templates = _IOS_REST + templates
    return _TRIGGER[family], build(templates, ignore_case=family != "linux")


RULES = {device: _rules_for(device) for device in _FAMILY_OF}
"""Device type -> (cheap trigger, ordered rules)."""
IN_STRING_RULES = (
    build(_CISCO, LITERAL_VALUE)
    + build(_JUNOS[:-1], LITERAL_VALUE)
    + build(_LINUX, LITERAL_VALUE, ignore_case=False)
)
"""Every command rule with a quote-free value: for commands quoted inside code."""
