"""Junos vocabularies: operational mode, configuration-mode commands and the configuration schema."""

from __future__ import annotations

OPERATIONAL = """
show => show
show interfaces {terse|extensive|detail|descriptions|brief|statistics|diagnostics <rest>}
show interfaces <arg> {terse|extensive|detail|brief|statistics}
show route {protocol <arg>|table <arg>|summary|detail|extensive|terse|<arg>}
show route {advertising-protocol|receive-protocol|forwarding-table} <rest>
show ospf {neighbor|interface|database|route|overview|statistics|log} <rest>
show {ospf3|ldp|rsvp|mpls|vrrp|pim|igmp|bfd|lacp|spanning-tree|dhcp|snmp|class-of-service} <rest>
show {policer|cli|ntp|log|firewall|vlans|pfe|krt|task|services} <rest>
show bgp {summary|neighbor <rest>|group <rest>}
show {configuration|version <rest>|arp {no-resolve}|lldp {neighbors <rest>|local-information}}
show system {uptime|alarms|users|storage|commit|processes <rest>|information|connections}
show chassis {hardware|alarms|environment|routing-engine|fpc <rest>}
show ethernet-switching {table|interfaces|statistics} <rest>
show isis {adjacency|interface|database|route} <rest>
show rip {neighbor|statistics} <rest>
show security {zones|policies|flow session|nat} <rest>
ping => debug
ping <arg> {count <arg>|source <arg>|rapid|size <arg>|routing-instance <arg>|interface <arg>}
ping <arg> {do-not-fragment|ttl <arg>|wait <arg>}
traceroute => debug
traceroute <arg> {source <arg>|routing-instance <arg>|no-resolve|ttl <arg>}
monitor => debug
monitor {traffic|start|stop} <rest>
monitor list
monitor interface <rest> => show
configure => config !configure
configure {private|exclusive|batch|dynamic}
edit => config !configure
request => other
request system {reboot|halt|power-off|zeroize|software <rest>|storage <rest>|configuration <rest>}
clear => other
clear {interfaces statistics|arp|bgp neighbor|ospf neighbor|log|ospf database} <rest>
file => other
file {list|show|copy|delete|compare} <rest>
start => other
start shell <rest>
{restart|help|test|op} => other
{restart|help|test|op} <rest>
set => other
set cli {screen-length <arg>|screen-width <arg>|timestamp|idle-timeout <arg>|complete-on-space <arg>}
set date <rest>
{exit|quit} => other !exit
"""

CONFIGURATION = """
{set|delete|activate|deactivate|protect|unprotect|annotate} => config
edit => config
show => show
run => other
{exit|quit} => other !exit
exit configuration-mode => other !leave
up => other !up
top => other !top
commit => config
commit {check|confirmed <arg>|comment <rest>|synchronize|at <arg>|full}
commit and-quit => config !leave
rollback <rest> => config
load {merge|override|replace|set|patch|update} <rest> => config
save <rest> => other
{copy|rename|insert|replace|wildcard} <rest> => config
{status|help} <rest> => other
"""

SCHEMA = """
system {host-name <arg>|domain-name <arg>|time-zone <arg>|name-server <arg>|root-authentication <rest>}
system {login <rest>|syslog <rest>|ntp server <arg>}
system services {ssh <rest>|telnet|netconf ssh|web-management <rest>|dhcp <rest>}
interfaces <arg> {description <rest>|vlan-tagging|disable|mtu <arg>|ether-options 802.3ad <arg>}
interfaces <arg> aggregated-ether-options lacp {active|passive}
interfaces <arg> unit <arg> {description <rest>|vlan-id <arg>|disable}
interfaces <arg> unit <arg> family {inet|inet6|iso|mpls} {address <arg>|filter {input|output} <arg>|mtu <arg>}
interfaces <arg> unit <arg> family ethernet-switching {interface-mode <arg>|port-mode <arg>}
interfaces <arg> unit <arg> family ethernet-switching vlan members <rest>
interfaces interface-range <arg> {member <arg>|member-range <rest>}
protocols {ospf|ospf3} area <arg> interface <arg> {passive|metric <arg>|interface-type <arg>|priority <arg>}
protocols {ospf|ospf3} area <arg> interface <arg> {hello-interval <arg>|dead-interval <arg>}
protocols {ospf|ospf3} area <arg> interface <arg> {authentication <rest>|bfd-liveness-detection <rest>}
protocols {ospf|ospf3} area <arg> {stub <rest>|nssa <rest>|area-range <rest>}
protocols {ospf|ospf3} {export <arg>|import <arg>|reference-bandwidth <arg>|traceoptions <rest>}
protocols bgp group <arg> {type <arg>|peer-as <arg>|local-address <arg>|export <arg>|import <arg>}
protocols bgp group <arg> {family <rest>|multihop <rest>|authentication-key <rest>|local-as <arg>}
protocols bgp group <arg> {description <rest>|cluster <arg>}
protocols bgp group <arg> neighbor <arg> {peer-as <arg>|description <rest>|local-address <arg>}
protocols bgp group <arg> neighbor <arg> {export <arg>|import <arg>}
protocols bgp {local-as <arg>|export <arg>|import <arg>|traceoptions <rest>}
protocols isis {interface <arg> <rest>|level <rest>|export <arg>}
protocols rip group <arg> {neighbor <arg>|export <arg>}
protocols {lldp|lldp-med|rstp|mstp|vstp|mpls|ldp|rsvp|pim|igmp|igmp-snooping|vrrp|bfd|dot1x|sflow} <rest>
routing-options static route <arg> {next-hop <arg>|discard|reject|preference <arg>|qualified-next-hop <rest>}
routing-options {router-id <arg>|autonomous-system <arg>|rib <rest>|forwarding-table <rest>}
policy-options policy-statement <arg> {term <arg> from|from} {protocol <arg>|route-filter <rest>}
policy-options policy-statement <arg> {term <arg> from|from} {prefix-list <arg>|neighbor <arg>|area <arg>}
policy-options policy-statement <arg> {term <arg> then|then} {accept|reject|next-hop <arg>|metric <arg>}
policy-options policy-statement <arg> {term <arg> then|then} {local-preference <arg>|community <rest>}
policy-options {prefix-list <arg> <arg>|community <arg> members <rest>|as-path <rest>}
firewall {family {inet|inet6|ethernet-switching} filter|filter} <arg> term <arg> from {protocol <arg>}
firewall {family {inet|inet6|ethernet-switching} filter|filter} <arg> term <arg> from {source-address <arg>}
firewall family {inet|inet6|ethernet-switching} filter <arg> term <arg> from destination-address <arg>
firewall filter <arg> term <arg> from destination-address <arg>
firewall {family {inet|inet6|ethernet-switching} filter|filter} <arg> term <arg> from {destination-port <arg>}
firewall {family {inet|inet6|ethernet-switching} filter|filter} <arg> term <arg> from {source-port <arg>}
firewall {family {inet|inet6|ethernet-switching} filter|filter} <arg> term <arg> from {icmp-type <arg>}
firewall {family {inet|inet6|ethernet-switching} filter|filter} <arg> term <arg> then {accept|discard}
firewall {family {inet|inet6|ethernet-switching} filter|filter} <arg> term <arg> then {reject|count <arg>}
firewall {family {inet|inet6|ethernet-switching} filter|filter} <arg> term <arg> then {log|syslog}
firewall policer <rest>
vlans <arg> {vlan-id <arg>|l3-interface <arg>|interface <arg>|description <rest>}
security zones security-zone <arg> {interfaces <arg> host-inbound-traffic <rest>|host-inbound-traffic <rest>}
security {policies|nat|screen|address-book|ike|ipsec} <rest>
routing-instances <arg> {instance-type <arg>|interface <arg>|route-distinguisher <arg>|vrf-target <rest>}
chassis aggregated-devices ethernet device-count <arg>
{snmp|chassis|class-of-service|forwarding-options|services|groups|bridge-domains|switch-options} <rest>
{ethernet-switching-options|poe|access} <rest>
apply-groups <arg>
"""

# Top-level hierarchies that configure routing, and the L2 / management protocols under [edit protocols].
ROUTING_TOP = frozenset({"protocols", "routing-options", "policy-options", "routing-instances"})
NON_ROUTING_PROTOCOLS = frozenset(
    {"lldp", "lldp-med", "rstp", "mstp", "vstp", "igmp-snooping", "dot1x", "sflow", "layer2-control"}
)
# Statements whose next word names them: "unit 0" is one level of the hierarchy, "interfaces" is one.
NAMED_STATEMENTS = frozenset(
    {
        "unit",
        "area",
        "interface",
        "group",
        "neighbor",
        "policy-statement",
        "term",
        "filter",
        "family",
        "security-zone",
        "prefix-list",
        "community",
        "route",
    }
)
