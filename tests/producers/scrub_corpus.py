"""A corpus of realistic lab command lines and code snippets with planted secrets.

Every planted secret is a fresh random string, so "does it appear anywhere" is
an exact search. ``{pw}`` and friends are secrets; other words must survive.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

_rng = random.Random()


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


GEN = {
    "pw": lambda: "Pw" + _rand(12),
    "t7": lambda: f"{_rng.randint(0, 15):02d}" + _rand(18, "0123456789ABCDEF"),
    "md5": lambda: f"$1${_rand(4)}${_rand(22, string.ascii_letters + string.digits + './')}",
    "sha512": lambda: f"$6${_rand(8)}${_rand(60, string.ascii_letters + string.digits + './')}",
    "j9": lambda: "$9$" + _rand(24, string.ascii_letters + string.digits + "./-"),
    "hex": lambda: "0x" + _rand(32, "0123456789abcdef"),
    "akia": lambda: "AKIA" + _rand(16, string.ascii_uppercase + string.digits),
    "ghp": lambda: "ghp_" + _rand(36),
    "glpat": lambda: "glpat-" + _rand(20),
    "email": lambda: f"{_rand(8).lower()}.{_rand(5).lower()}@example-school.edu",
    "jwt": lambda: f"eyJ{_rand(20)}.eyJ{_rand(30)}.{_rand(40)}",
    "pem": lambda: "\\n".join(
        [
            "-----BEGIN RSA PRIVATE KEY-----",
            _rand(64, string.ascii_letters + "+/"),
            _rand(64),
            "-----END RSA PRIVATE KEY-----",
        ]
    ),
}
_SLOT = re.compile(r"\{(" + "|".join(GEN) + r")\}")

COMMANDS: dict[str, list[str]] = {
    "cisco_ios": [
        "enable secret {pw}",
        "enable secret 5 {md5}",
        "enable password 7 {t7}",
        "enable secret 9 {j9}",
        "username admin privilege 15 secret {pw}",
        "username netops password 7 {t7}",
        "username student1 privilege 1 secret 5 {md5}",
        "snmp-server community {pw} RO 10",
        "snmp-server community {pw} RW",
        "snmp-server user monitor NMS v3 auth sha {pw} priv aes 128 {pw}",
        "tacacs-server host 10.1.1.5 key 7 {t7}",
        "tacacs-server key {pw}",
        "radius-server key 7 {t7}",
        "radius-server host 10.0.0.9 auth-port 1812 acct-port 1813 key {pw}",
        " key 7 {t7}",
        " key-string {pw}",
        " key-string 7 {t7}",
        "crypto isakmp key {pw} address 203.0.113.5",
        "crypto isakmp key 0 {pw} address 0.0.0.0 0.0.0.0",
        " pre-shared-key address 198.51.100.7 key {pw}",
        "ntp authentication-key 1 md5 {pw} 7",
        " ip ospf authentication-key {pw}",
        " ip ospf message-digest-key 1 md5 {pw}",
        " ip ospf message-digest-key 2 md5 7 {t7}",
        " neighbor 192.0.2.1 password {pw}",
        " neighbor 10.255.0.2 password 7 {t7}",
        " password {pw}",
        " password 7 {t7}",
        " wpa-psk ascii 0 {pw}",
        " authentication key-chain OSPF",
    ],
    "cisco_nxos": [
        "username admin password 5 {sha512}  role network-admin",
        "username ops password {pw} role network-operator",
        "snmp-server user nms network-admin auth sha {pw} priv aes-128 {pw}",
        "snmp-server user mon network-operator auth md5 {hex} priv {hex} localizedkey",
        "snmp-server community {pw} group network-operator",
        "snmp-server host 10.9.9.9 traps version 2c {pw}",
        "tacacs-server host 10.1.1.1 key 7 {t7}",
        "radius-server host 10.1.1.2 key {pw} authentication accounting",
        "tacacs-server key 0 {pw}",
        "  ip ospf authentication-key 3 {t7}",
        "  ip ospf message-digest-key 1 md5 3 {t7}",
        "    password 3 {t7}",
        "  key-string 7 {t7}",
        "feature password encryption aes",
        "ntp authentication-key 5 md5 {pw} 7",
        "  neighbor 10.0.0.2 password {pw}",
        "    password {pw}",
        "  key-string {pw}",
        "username lab1 password {pw} role priv-1",
        "radius-server key 7 {t7}",
        "crypto isakmp key {pw} address 192.0.2.20",
        "snmp-server community {pw} ro",
        "  key 7 {t7}",
        "enable secret {pw}",
        "username guest password 0 {pw} role network-operator",
        "ntp authentication-key 2 md5 {pw}",
        "tacacs-server host 172.16.1.10 key {pw} port 49",
        "  authentication-key 7 {t7}",
        "snmp-server user opsuser auth sha {pw}",
        "  password 3 {t7}",
    ],
    "arista_eos": [
        "enable secret sha512 {sha512}",
        "enable password {pw}",
        "username admin privilege 15 role network-admin secret sha512 {sha512}",
        "username ops secret {pw}",
        "username student nopassword",
        "username lab secret 5 {md5}",
        "snmp-server community {pw} ro",
        "snmp-server user nms ops v3 auth sha {pw} priv aes {pw}",
        "tacacs-server host 10.1.1.1 key 7 {t7}",
        "radius-server host 10.1.1.2 key 7 {t7}",
        "tacacs-server key 7 {t7}",
        "   ip ospf authentication-key 7 {t7}",
        "   ip ospf message-digest-key 1 md5 7 {t7}",
        "   neighbor 10.0.0.1 password 7 {t7}",
        "   neighbor PEERS password {pw}",
        "   key-string 7 {t7}",
        "ntp authentication-key 1 md5 7 {t7}",
        "ntp authentication-key 2 md5 {pw}",
        "   pre-shared-key key {pw}",
        "username netadmin privilege 15 secret 0 {pw}",
        "radius-server key {pw}",
        "   neighbor 192.0.2.33 password 0 {pw}",
        "snmp-server community {pw} rw",
        "   authentication-key {pw}",
        "enable secret 0 {pw}",
        "   key 7 {t7}",
        "username auditor privilege 1 secret {pw}",
        "   password {pw}",
        "   key-string {pw}",
        "tacacs-server host 10.1.2.3 vrf MGMT key 7 {t7}",
    ],
    "juniper_junos": [
        'set system root-authentication encrypted-password "{sha512}"',
        'set system login user ops class super-user authentication encrypted-password "{md5}"',
        "set system login user lab authentication plain-text-password-value {pw}",
        'set system radius-server 10.1.1.5 secret "{j9}"',
        "set system tacplus-server 10.1.1.6 secret {pw}",
        "set snmp community {pw} authorization read-only",
        "set snmp v3 usm local-engine user nms authentication-sha authentication-password {pw}",
        "set snmp v3 usm local-engine user nms privacy-aes128 privacy-password {pw}",
        'set protocols bgp group EXT neighbor 192.0.2.1 authentication-key "{j9}"',
        "set protocols bgp group IBGP authentication-key {pw}",
        'set protocols ospf area 0.0.0.0 interface ge-0/0/0.0 authentication md5 1 key "{j9}"',
        "set protocols ospf area 0.0.0.0 interface ge-0/0/1.0 authentication md5 2 key {pw}",
        'set system ntp authentication-key 1 type md5 value "{j9}"',
        "set system ntp authentication-key 2 type sha1 value {pw}",
        'set security ike policy IKE-POL pre-shared-key ascii-text "{j9}"',
        "set security ike policy VPN pre-shared-key ascii-text {pw}",
        'set security authentication-key-chains key-chain KC key 1 secret "{j9}"',
        "set protocols isis interface ge-0/0/2.0 level 2 hello-authentication-key {pw}",
        "set system login user student1 authentication encrypted-password {sha512}",
        "set snmp community {pw} clients 10.0.0.0/8",
        "set access profile RAD radius-server 10.2.2.2 secret {pw}",
        "set system radius-server 10.1.1.7 secret {pw} port 1812",
        "set protocols ldp authentication-key {pw}",
        "set protocols rsvp interface all authentication-key {pw}",
        'set protocols bgp group EXT authentication-key "{j9}" peer-as 65001',
        "set system root-authentication encrypted-password {md5}",
        "set protocols vrrp authentication-key {pw}",
        "set snmp v3 usm local-engine user mon authentication-md5 authentication-key {hex}",
        'set system login user x authentication encrypted-password "{j9}"',
        "set security ike policy P2 pre-shared-key hexadecimal {hex}",
    ],
    "linux": [
        "sshpass -p {pw} ssh admin@10.0.0.1",
        "sshpass -p '{pw}' scp backup.cfg netops@r1:/tmp/",
        "mysql -u root -p{pw} labdb",
        "mysqldump -u backup -p{pw} --all-databases",
        "curl -u admin:{pw} https://10.0.0.5/restconf/data",
        "curl --user netops:{pw} -k https://r2/api",
        "git clone https://student:{pw}@git.example-school.edu/lab/repo.git",
        "curl -H 'Authorization: Bearer {jwt}' https://api.example-school.edu/v1",
        "export DB_PASSWORD={pw}",
        "export GITHUB_TOKEN={ghp}",
        "export AWS_ACCESS_KEY_ID={akia}",
        "MYSQL_PWD={pw} mysql -u app lab",
        "ansible-playbook site.yml --vault-password-file vp --extra-vars ansible_password={pw}",
        "openssl pkcs12 -export -in c.pem -out c.p12 -passout pass:{pw}",
        "ipmitool -I lanplus -H 10.0.0.9 -U admin -P {pw} chassis status",
        "smbclient //fs/share -U student%{pw}",
        "wpa_passphrase LabWiFi {pw}",
        "nmcli dev wifi connect LabWiFi password {pw}",
        "htpasswd -b /etc/nginx/.htpasswd student {pw}",
        "echo 'student:{pw}' | chpasswd",
        "echo {pw} | sudo -S systemctl restart frr",
        "docker login -u ci --password {pw} registry.example-school.edu",
        "vault login -method=userpass username=ops password={pw}",
        "redis-cli -h 10.0.0.3 --pass {pw} ping",
        "psql postgresql://app:{pw}@db:5432/lab",
        "gh auth login --with-token {ghp}",
        "curl https://ops:{pw}@10.0.0.7/status",
        "echo 'root:{sha512}' | chpasswd -e",
        "mysql --password={pw} -h db lab",
        "glab auth login --token {glpat}",
    ],
}

CODE: list[tuple[str, str]] = [
    (
        "python",
        'from netmiko import ConnectHandler\nr1 = ConnectHandler(device_type="cisco_ios", host="10.0.0.1",'
        ' username="admin", password="{pw}", secret="{pw}")\nprint(r1.send_command("show ip int brief"))\n',
    ),
    (
        "python",
        "import napalm\ndriver = napalm.get_network_driver('eos')\ndev = driver('10.0.0.2', 'admin', "
        "password='{pw}', optional_args={{'secret': '{pw}'}})\n",
    ),
    ("python", 'DEVICE = {{"host": "r1", "username": "lab", "password": "{pw}", "port": 22}}\n'),
    ("python", 'API_TOKEN = "{ghp}"\nheaders = {{"Authorization": f"token {{API_TOKEN}}"}}\n'),
    (
        "python",
        'import boto3\ns3 = boto3.client("s3", aws_access_key_id="{akia}", aws_secret_access_key="{pw}")\n',
    ),
    ("python", 'KEY = """{pem}"""\n'),
    ("python", 'pem = "{pem}"\nprint(len(pem))\n'),
    ("python", '# contact {email} for help\nOWNER = "{email}"\n'),
    ("python", 'import requests\nr = requests.get("https://api.example-school.edu", auth=("ops", "{pw}"))\n'),
    ("python", 'requests.post(url, headers={{"Authorization": "Bearer {jwt}"}})\n'),
    ("python", 'db_password: str = "{pw}"\nretries = 3\n'),
    ("python", 'if password == "{pw}":\n    print("welcome")\n'),
    ("python", 'conn.send_config_set(["enable secret {pw}", "username ops secret {pw}"])\n'),
    ("python", "cmds = ['snmp-server community {pw} RO', 'tacacs-server key {pw}']\n"),
    ("python", 'url = "https://student:{pw}@git.example-school.edu/lab.git"\n'),
    ("python", 'gitlab_token = "{glpat}"\n'),
    ("python", 'client = Client(api_key="{pw}", timeout=5)\n'),
    ("python", 'SECRET_KEY = "{pw}"\nDEBUG = False\n'),
    ("python", 'creds = dict(user="lab", passwd="{pw}")\n'),
    ("python", 'auth_token = "{jwt}"\n'),
    ("python", 'def connect(host, password="{pw}"):\n    return host\n'),
    ("python", 'PRIVATE_KEY = "{pem}"\nHOST = "r1"\n'),
    ("python", 'email = "{email}"\nsend(to=email)\n'),
    ("python", 'os.system("sshpass -p {pw} ssh admin@r1 show version")\n'),
    ("python", 'aws = {{"key": "{akia}"}}\n'),
    ("python", 'community_string = "{pw}"\n'),
    ("python", 'hashes = ["{md5}", "{sha512}"]\n'),
    ("python", 'config = f"username {{user}} secret {pw}"\n'),
    ("python", 'psk = "{pw}"\nssid = "LabWiFi"\n'),
    ("python", 'enable_secret = "{pw}"  # router enable\n'),
    # credentials passed by position (issue 13): one case per signature the course uses
    ("python", 'from netmiko import ConnectHandler\nr1 = ConnectHandler("10.0.0.1", "", "admin", "{pw}")\n'),
    (
        "python",
        'r1 = ConnectHandler("10.0.0.1", "r1.lab", "admin", "{pw}", "{pw}", device_type="cisco_ios")\n',
    ),
    ("python", 'driver = get_network_driver("ios")\ndevice = driver("10.0.0.1", "admin", "{pw}")\n'),
    (
        "python",
        'dev = napalm.get_network_driver("eos")("sw1", "admin", "{pw}", optional_args={{"port": 443}})\n',
    ),
    ("python", 'client = paramiko.SSHClient()\nclient.connect("10.0.0.1", 22, "admin", "{pw}")\n'),
    ("python", 'with manager.connect("r1", 830, "netconf", "{pw}", hostkey_verify=False) as m:\n    pass\n'),
    ("python", 'node = pyeapi.client.connect("https", "sw1", "admin", "{pw}")\n'),
    ("python", 'conn = IOSXEDriver("r1", 22, "admin", "{pw}")\nconn.open()\n'),
    ("python", 'conn = Scrapli("r1", 22, "admin", "{pw}", platform="cisco_iosxe")\n'),
    ("python", 'r = requests.get(url, auth=(user, "{pw}"), verify=False)\n'),
    ("python", 'session.auth = HTTPBasicAuth("admin", "{pw}")\n'),
    ("python", 'r = requests.get(url, auth=HTTPDigestAuth("admin", "{pw}"))\n'),
    ("python", 'dev = Device("vsrx1", "root", "{pw}")\ndev.open()\n'),
    ("python", 'ftp = ftplib.FTP("10.0.0.5")\nftp.login("student", "{pw}")\n'),
    (
        "yaml",
        "all:\n  vars:\n    ansible_user: admin\n    ansible_password: {pw}\n"
        "    ansible_become_pass: '{pw}'\n",
    ),
    ("yaml", 'devices:\n  - host: r1\n    password: "{pw}"\n    secret: {pw}\n'),
    ("yaml", "snmp:\n  community: {pw}\n  location: lab-3\n"),
    ("yaml", "github:\n  token: {ghp}\n  org: school\n"),
    ("yaml", "aws:\n  access_key: {akia}\n  secret_key: {pw}\n"),
    ("yaml", "contacts:\n  - {email}\n"),
    ("yaml", "ospf:\n  authentication_key: {pw}\n  area: 0\n"),
    ("yaml", 'users:\n  - name: ops\n    hash: "{sha512}"\n'),
    ("yaml", "vpn:\n  pre_shared_key: {pw}\n  peer: 203.0.113.9\n"),
    ("yaml", "db:\n  url: postgresql://app:{pw}@db:5432/lab\n"),
    ("jinja2", "hostname {{{{ hostname }}}}\nenable secret {pw}\nusername admin secret {pw}\n"),
    ("jinja2", "snmp-server community {pw} RO\nsnmp-server location {{{{ site }}}}\n"),
    ("jinja2", "interface {{{{ intf }}}}\n ip ospf authentication-key {pw}\n"),
    ("jinja2", "router bgp {{{{ asn }}}}\n neighbor {{{{ peer }}}} password {pw}\n"),
    ("jinja2", "tacacs-server host 10.1.1.1 key {pw}\nline vty 0 4\n password {pw}\n"),
    ("jinja2", 'set system root-authentication encrypted-password "{sha512}"\n'),
    ("jinja2", "crypto isakmp key {pw} address {{{{ peer_ip }}}}\n"),
    ("text", "password = {pw}\nuser = ops\n"),
    ("text", "Contact: {email}\nToken: {ghp}\n"),
    ("text", "aws_access_key_id={akia}\naws_secret_access_key={pw}\n"),
    ("text", "{pem}\n"),
    ("text", "my api_key: {pw} (do not share)\n"),
]


@dataclass
class Case:
    kind: str  # device type or language
    text: str
    secrets: list[str]
    words: list[str]  # non-secret words that must survive


def _fill(template: str) -> Case:
    secrets: list[str] = []

    def sub(m: re.Match[str]) -> str:
        secrets.append(GEN[m.group(1)]())
        return secrets[-1]

    text = _SLOT.sub(sub, template)
    plain = _SLOT.sub(" ", template.replace("{{", "{").replace("}}", "}"))
    words = [w for w in re.split(r"[\s\"'(),=:\[\]{}]+", plain) if len(w) > 1 and not w.startswith("$")]
    return Case(
        "", text.replace("{{", "{").replace("}}", "}") if "{" not in template else text, secrets, words
    )


def command_cases(copies: int = 2) -> list[Case]:
    out = []
    for device, templates in COMMANDS.items():
        for t in templates * copies:
            c = _fill(t)
            c.kind = device
            out.append(c)
    return out


def _plant(template: str) -> tuple[str, list[str]]:
    secrets: list[str] = []

    def sub(m: re.Match[str]) -> str:
        secrets.append(GEN[m.group(1)]())
        return secrets[-1]

    return _SLOT.sub(sub, template), secrets


def code_cases() -> list[Case]:
    out = []
    for language, template in CODE:
        text, secrets = _plant(template)
        text = text.replace("{{", "{").replace("}}", "}")
        plain = _SLOT.sub(" ", template).replace("{{", "{").replace("}}", "}")
        words = [w for w in re.split(r"[^A-Za-z0-9_]+", plain) if len(w) > 2]
        out.append(Case(language, text, secrets, words))
    return out
