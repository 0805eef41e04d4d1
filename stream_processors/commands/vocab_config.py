"""Cisco-style global configuration vocabulary (IOS, NX-OS, EOS) and the commands that enter sub-modes.

Mode names after ``>`` may carry a ``:variant`` (``config-router:ospf``) choosing the sub-mode's
vocabulary; the reported mode drops it.
"""

from __future__ import annotations

CONFIG = """
hostname <arg> => config
interface <if> => config >config-if
interface range <ifs> => config >config-if-range
router {ospf|ospfv3} <arg> => routing >config-router:ospf
router eigrp <arg> => routing >config-router:eigrp
router bgp <arg> => routing >config-router:bgp
router isis <arg> => routing >config-router:isis
router rip => routing >config-router:rip
ipv6 router ospf <arg> => routing >config-router:ospf
ipv6 router eigrp <arg> => routing >config-router:eigrp
ipv6 router rip <arg> => routing >config-router:rip
{ip|ipv6} {route|prefix-list|as-path|community-list|multicast-routing} => routing
{ip|ipv6} {route|prefix-list|as-path|community-list|multicast-routing} <rest>
ip {routing|default-gateway|default-network|classless} => routing
ip {default-gateway|default-network} <arg>
ipv6 unicast-routing => routing
ip {domain-name|domain-lookup|domain|name-server|cef|ssh|http|nat|scp|ftp|tftp|host|igmp|sla} <rest>
ip {arp|source-route|subnet-zero|forward-protocol|options|icmp|tcp|dhcp} <rest>
ip dhcp {excluded-address|snooping} <rest>
ip dhcp pool <arg> => config >config-dhcp
ip access-list extended <arg> => config >config-ext-nacl
ip access-list standard <arg> => config >config-std-nacl
ip access-list <arg> => config >config-acl
ipv6 access-list <arg> => config >config-ipv6-acl
ipv6 {cef|dhcp|nd|general-prefix} <rest>
access-list <rest>
vlan <arg> => config >config-vlan
vlan {internal|dot1q|access-map|filter} <rest>
line {vty|con|console|aux} <rest> => config >config-line
enable {secret|password|algorithm-type} <rest>
{username|service|banner|spanning-tree|vtp|cdp|lldp|ntp|logging|snmp-server|crypto|aaa|clock} <rest>
{archive|mac|mac-address-table|errdisable|monitor|track|port-channel|boot|license|login} <rest>
{security|privilege|file|alias|system|errdisable|udld|power|platform|call-home|dot1x} <rest>
route-map <arg> => routing >config-route-map
route-map <arg> {permit|deny} <num>
key chain <arg> => config >config-keychain
policy-map <arg> => config >config-pmap
class-map <rest> => config >config-cmap
vrf definition <arg> => config >config-vrf
@ios ip vrf <arg> => config >config-vrf
@nxos vrf context <arg> => config >config-vrf
@eos vrf instance <arg> => config >config-vrf
@nxos feature <arg> => config
@nxos feature {interface-vlan|lacp|lldp|vpc|nxapi|hsrp|vrrp|ssh|telnet|scp-server|tacacs+|udld} => config
@nxos feature {dhcp|netconf|bash-shell|vn-segment-vlan-based|fex|ptp|private-vlan|port-security} => config
@nxos feature {sflow|bfd} => config
@nxos feature {ospf|ospfv3|bgp|eigrp|isis|rip|pim} => routing
@nxos vpc domain <arg> => config >config-vpc-domain
@nxos {copp|install|nv|fabric|evpn} <rest>
@eos management api http-commands => config >config-mgmt-api
@eos management {ssh|telnet|console|security|api <rest>} => config >config-mgmt
@eos daemon <arg> => config >config-daemon
@eos mlag configuration => config >config-mlag
@eos {transceiver|agent|event-handler|queue-monitor} <rest>
@eos ip virtual-router <rest>
@eos ip name-server <rest>
"""

# Commands of every sub-mode.
_LEAVE = "exit => other !exit\nend => other !end\n"

_INTERFACE = """
description <rest>
shutdown
ip address <rest>
ip {ospf|router|rip|summary-address|pim|hello-interval|hold-time|authentication|split-horizon} => routing
ip ospf {cost <arg>|priority <arg>|hello-interval <arg>|dead-interval <arg>|authentication <rest>}
ip ospf {authentication-key <rest>|message-digest-key <rest>|<arg> area <arg>|bfd|passive-interface}
ip ospf network {point-to-point|broadcast|non-broadcast|point-to-multipoint <rest>}
ip router {ospf|eigrp|isis} <arg> area <arg>
ip {helper-address <arg>|access-group <arg> {in|out}|nat {inside|outside}|proxy-arp|redirects}
ip {unreachables|mtu <arg>|directed-broadcast|dhcp <rest>|unnumbered <if>|vrf forwarding <arg>}
ip {policy route-map <arg>|verify <rest>|igmp <rest>|tcp adjust-mss <arg>|flow <rest>}
ipv6 {address <rest>|enable|nd <rest>|dhcp <rest>|traffic-filter <rest>}
ipv6 {ospf|router|eigrp|rip} => routing
ipv6 {ospf|eigrp|rip} <arg> area <arg>
isis <rest> => routing
switchport {mode {access|trunk|dynamic {auto|desirable}|private-vlan <rest>}|access vlan <arg>}
switchport trunk {allowed vlan <rest>|native vlan <arg>|encapsulation {dot1Q|isl|negotiate}|pruning <rest>}
switchport {nonegotiate|voice vlan <arg>|port-security <rest>|host|priority <rest>|block <rest>|protected}
{speed|mtu|bandwidth|delay|load-interval|mac-address|vpc|mlag} <arg>
duplex {auto|full|half}
{keepalive|standby|vrrp|hsrp|service-policy|storm-control|ppp|pvc|media-type|negotiation} <rest>
{power|udld|flowcontrol|authentication|dot1x|bfd|priority-flow-control|channel-protocol} <rest>
clock rate <arg>
encapsulation {dot1Q <rest>|ppp|hdlc|frame-relay <rest>}
channel-group <arg> mode {active|passive|on|desirable|auto}
spanning-tree {portfast <rest>|bpduguard <rest>|bpdufilter <rest>|cost <arg>|port-priority <arg>}
spanning-tree {guard <rest>|link-type <rest>|vlan <rest>|port type <rest>}
cdp enable
lldp {transmit|receive}
tunnel {source <if>|destination <arg>|mode <rest>|key <arg>}
@ios vrf forwarding <arg>
@nxos vrf member <arg>
@eos vrf <arg>
@nxos hsrp <arg> => config >config-if-hsrp
vpc peer-link
mab
"""

_ROUTER_COMMON = """
router-id <arg>
passive-interface {default|<if>}
redistribute {connected|static|rip|direct|isis} <rest>
redistribute {ospf|bgp|eigrp|ospfv3} <arg>
default-information originate <rest>
{maximum-paths|distance|timers|default-metric|distribute-list|summary-address|offset-list} <rest>
{auto-summary|log-adjacency-changes|bfd|traffic-share|nsf|graceful-restart} <rest>
shutdown
"""

ROUTER = {
    "ospf": _ROUTER_COMMON
    + """
network <arg> {<arg> area <arg>|area <arg>}
area <arg> {authentication <rest>|stub <rest>|nssa <rest>|range <rest>|default-cost <arg>}
area <arg> {virtual-link <rest>|filter-list <rest>}
auto-cost reference-bandwidth <arg>
{max-metric|capability|compatible|ispf|prefix-suppression|neighbor} <rest>
@nxos,eos vrf <arg> => routing >config-router-vrf:ospf
""",
    "bgp": _ROUTER_COMMON
    + """
network <arg> {mask <arg>|route-map <arg>}
neighbor <arg> {remote-as <arg>|update-source <if>|next-hop-self <rest>|description <rest>}
neighbor <arg> {activate|password <rest>|ebgp-multihop <rest>|route-reflector-client|shutdown}
neighbor <arg> {send-community <rest>|route-map <arg> {in|out}|timers <rest>|peer-group <rest>}
neighbor <arg> {soft-reconfiguration <rest>|default-originate <rest>|maximum-prefix <rest>}
neighbor <arg> {allowas-in <rest>|remove-private-as <rest>|weight <arg>|local-as <rest>}
neighbor <arg> {prefix-list <arg> {in|out}|filter-list <rest>|maximum-routes <rest>|peer <rest>}
@nxos neighbor <arg> => routing >config-router-neighbor
bgp {router-id <arg>|log-neighbor-changes|default <rest>|bestpath <rest>|cluster-id <arg>}
bgp {confederation <rest>|listen <rest>}
address-family {ipv4|ipv6|vpnv4|l2vpn|evpn} => routing >config-router-af
address-family {ipv4|ipv6|vpnv4|l2vpn|evpn} {unicast|multicast|vrf <arg>} <rest>
{aggregate-address|table-map|template} <rest>
synchronization
@nxos,eos vrf <arg> => routing >config-router-vrf:bgp
""",
    "eigrp": _ROUTER_COMMON
    + """
network <arg> <arg>
eigrp {router-id <arg>|stub <rest>|log-neighbor-changes}
{metric|variance} <rest>
address-family {ipv4|ipv6} <rest> => routing >config-router-af
""",
    "rip": _ROUTER_COMMON + "network <arg>\nversion <arg>\nneighbor <arg>\n",
    "isis": _ROUTER_COMMON
    + """
net <arg>
is-type <rest>
metric-style <rest>
set-overload-bit <rest>
address-family {ipv4|ipv6} <rest> => routing >config-router-af
""",
}

_AF = """
network <arg> {mask <arg>|route-map <arg>}
neighbor <arg> {activate|route-map <arg> {in|out}|send-community <rest>|next-hop-self <rest>}
neighbor <arg> {route-reflector-client|soft-reconfiguration inbound|default-originate <rest>}
neighbor <arg> {allowas-in <rest>|remove-private-as <rest>|maximum-prefix <rest>|prefix-list <rest>}
redistribute {connected|static|rip|direct|isis|ospf|bgp|eigrp} <rest>
{aggregate-address|maximum-paths|default-information|distance|table-map} <rest>
exit-address-family => other !exit
"""

_NEIGHBOR = """
{remote-as|update-source|description|password|ebgp-multihop|timers|local-as} <rest>
shutdown
address-family {ipv4|ipv6|l2vpn} => routing >config-router-neighbor-af
address-family {ipv4|ipv6|l2vpn} {unicast|evpn} <rest>
"""
_NEIGHBOR_AF = """
{route-map|send-community|next-hop-self|allowas-in|default-originate|maximum-prefix|prefix-list} <rest>
{route-reflector-client|soft-reconfiguration} <rest>
"""

_ACL = "{permit|deny|remark} <rest>\n<num> {permit|deny|remark} <rest>\nstatistics per-entry\n"

SUBMODES: dict[str, str] = {
    "config-if": _INTERFACE,
    "config-subif": _INTERFACE,
    "config-if-range": _INTERFACE,
    **{f"config-router:{proto}": text for proto, text in ROUTER.items()},
    "config-router-vrf:bgp": ROUTER["bgp"],
    "config-router-vrf:ospf": ROUTER["ospf"],
    "config-router-af": _AF,
    "config-router-neighbor": _NEIGHBOR,
    "config-router-neighbor-af": _NEIGHBOR_AF,
    "config-if-hsrp": "{ip|priority|preempt|authentication|timers|track|name|mac-address} <rest>\n",
    "config-route-map": "{match|set|description|continue} <rest>\n",
    "config-line": """
password <rest>
login {local|authentication <rest>}
transport {input|output|preferred} <rest>
{exec-timeout|privilege|access-class|history|length|stopbits|speed|session-timeout} <rest>
logging synchronous
""",
    "config-vlan": "name <arg>\nstate {active|suspend}\nvn-segment <arg>\ntrunk group <arg>\n",
    "config-ext-nacl": _ACL,
    "config-std-nacl": _ACL,
    "config-acl": _ACL,
    "config-ipv6-acl": _ACL,
    "config-dhcp": "{network|default-router|dns-server|domain-name|lease|option} <rest>\n",
    "config-vrf": """
{rd|route-target|description|vni} <rest>
address-family {ipv4|ipv6} <rest> => config >config-vrf-af
{ip|ipv6} route => routing
{ip|ipv6} route <rest>
""",
    "config-vrf-af": "{route-target|import|export} <rest>\nexit-address-family => other !exit\n",
    "config-keychain": "key <arg> => config >config-keychain-key\n",
    "config-keychain-key": "{key-string|accept-lifetime|send-lifetime|cryptographic-algorithm} <rest>\n",
    "config-pmap": "class <arg> => config >config-pmap-c\n",
    "config-pmap-c": "{police|shape|bandwidth|priority|set|service-policy|queue-limit} <rest>\n",
    "config-cmap": "{match|description} <rest>\n",
    "config-vpc-domain": "{peer-keepalive|role|system-priority|delay} <rest>\n{peer-gateway|auto-recovery}\n",
    "config-mgmt-api": "protocol {http|https|unix-socket} <rest>\nshutdown\nvrf <arg>\n",
    "config-mgmt": "{idle-timeout|authentication-mode|vrf} <rest>\nshutdown\n",
    "config-daemon": "{exec|command|option} <rest>\nshutdown\n",
    "config-mlag": "{domain-id|local-interface|peer-address|peer-link} <rest>\n"
    + "{heartbeat-interval|reload-delay} <rest>\n",
}
SUBMODES = {name: text + _LEAVE for name, text in SUBMODES.items()}
CONFIG_TEXT = CONFIG + _LEAVE

# Mode families whose every command configures routing.
ROUTING_MODES = frozenset(
    {
        "config-router",
        "config-router-af",
        "config-router-neighbor",
        "config-router-neighbor-af",
        "config-router-vrf",
        "config-route-map",
    }
)
