"""Cisco-style EXEC vocabulary (IOS, NX-OS, EOS): show, debug, ping, session commands, pipes."""

from __future__ import annotations

EXEC = """
%alias u undebug
%alias un undebug
%alias wr write
show => show
show {running-config|startup-config} <rest>
show running-config {interface <ifs>|all|section <rest>|brief|linenum|full|router <rest>}
show {version|clock|users|history|flash:|inventory|environment|hosts|privilege|tech-support|debugging}
show {line|boot|license|redundancy|sessions|terminal|archive|arp|logging <rest>|module|hardware <rest>}
show {processes|memory|controllers|platform|snmp|file|dhcp|crypto|policy-map|class-map|route-map} <rest>
show {aaa|authentication|key|bfd|isis|clns|mpls|vrf|ip|ipv6|access-lists|monitor} <rest>
@ios,eos show interfaces <rest>
@nxos show interface <rest>
show ip interface {brief|<if>}
show ip route {ospf|bgp|eigrp|rip|isis|connected|static|summary|local|detail|vrf <arg>|<arg>}
show ip route <arg> {longer-prefixes|<arg>}
show ip ospf {neighbor {detail|<if>}|interface {brief|<if>}|database <rest>|border-routers|virtual-links}
show ip ospf {route|<arg>}
show ip bgp {summary|neighbors <rest>|vpnv4 <rest>|ipv4 <rest>|regexp <rest>|community <rest>|<arg>}
show ip eigrp {neighbors <rest>|topology <rest>|interfaces <rest>|traffic}
show ip {protocols|arp <rest>|rip database|nat {translations|statistics}|access-lists <rest>|ssh}
show ip {dhcp {binding|pool|conflict}|cef <rest>|vrf <rest>|mroute <rest>|pim <rest>|igmp <rest>}
show ip {prefix-list <rest>|sla <rest>|http <rest>|route}
show ipv6 {interface {brief|<if>}|route <rest>|ospf <rest>|neighbors|protocols|access-list <rest>}
@ios,eos show interfaces {<if> {status|trunk|switchport|counters <rest>|description|transceiver}}
@ios,eos show interfaces {status <rest>|trunk|description|counters <rest>|switchport|summary}
@nxos show interface {<if> {status|trunk|switchport|counters <rest>|description|brief|transceiver}}
@nxos show interface {status <rest>|trunk|description|counters <rest>|switchport|brief}
show vlan {brief|id <arg>|name <arg>|summary|internal <rest>}
show spanning-tree {vlan <arg>|summary|detail|interface <if> <rest>|root|blockedports|mst <rest>}
show {cdp|lldp} {neighbors {detail|<if>}|interface <rest>|entry <rest>|traffic}
show mac address-table {dynamic|static|vlan <arg>|interface <if>|address <arg>|count|aging-time}
show mac-address-table <rest>
show etherchannel {summary|detail|port-channel|load-balance}
show {vtp {status|password|counters}|standby {brief|<if>}|vrrp {brief|<if>}|ntp {status|associations}}
show bgp {summary|neighbors <rest>|ipv6 <rest>|l2vpn <rest>|evpn <rest>|vrf <rest>|<arg>}
show bgp ipv4 unicast {summary|neighbors <rest>|<arg>}
@nxos,eos show port-channel {summary|load-balance|brief}
@nxos show {feature|vpc {brief|<rest>}|system resources|hsrp {brief}|nve <rest>|cli <rest>}
@eos show {mlag <rest>|management {api <rest>|ssh}|daemon <rest>|vxlan <rest>|ip virtual-router|extensions}
enable <num> => other !enable
disable <num> => other !disable
{exit|logout} => other !exit
configure => config >config
configure {terminal|network}
configure {memory|confirm|replace <rest>|revert <rest>} => config
@eos configure session <arg>
ping => debug
ping <arg> {source <if>|repeat <arg>|size <arg>|timeout <arg>|df-bit|count <arg>|vrf <arg>|interval <arg>}
ping vrf <arg>
traceroute => debug
traceroute <arg> {source <if>|numeric|ttl <rest>|probe <arg>|timeout <arg>|vrf <arg>}
traceroute vrf <arg>
@nxos {ping6|traceroute6} => debug
@nxos {ping6|traceroute6} <rest>
{debug|undebug} => debug
{debug|undebug} {all|ipv6|spanning-tree|arp|interface|condition|lldp|cdp|ppp|crypto|dhcp|aaa|nat} <rest>
{debug|undebug} {ntp|sw-vlan|standby|vlan|bgp <rest>|eigrp <rest>|ospf <rest>|rip <rest>}
{debug|undebug} ip {ospf|bgp|eigrp|rip|icmp|packet|routing|nat|dhcp|http|igmp|pim|arp} <rest>
{debug|undebug} ip ospf {adj|events|hello|packet|lsa-generation|spf|retransmission|database-timer}
{debug|undebug} ip bgp {updates|events|keepalives}
{debug|undebug} ip eigrp {packets|neighbor|notifications}
{debug|undebug} ip rip {events|database}
{debug|undebug} eigrp {packets|fsm|neighbors}
clear => other
clear {counters|arp-cache|line|logging|spanning-tree|access-list|interface|mac|mac-address-table} <rest>
clear ip {ospf|bgp|route|nat|arp|eigrp|dhcp} <rest>
clear ip ospf process
copy => other
copy {running-config|startup-config|tftp:|flash:|ftp:|scp:|bootflash:|nvram:|<arg>} <arg>
copy {running-config|startup-config|tftp:|flash:|ftp:|scp:|bootflash:|nvram:|<arg>} {running-config}
copy {running-config|startup-config|tftp:|flash:|ftp:|scp:|bootflash:|nvram:|<arg>} {startup-config}
copy {running-config|startup-config|tftp:|flash:|ftp:|scp:|bootflash:|nvram:|<arg>} {tftp:|flash:|ftp:}
copy {running-config|startup-config|tftp:|flash:|ftp:|scp:|bootflash:|nvram:|<arg>} {scp:|bootflash:}
write => other
write {memory|erase|terminal|network <rest>}
terminal => other
terminal {length <arg>|width <arg>|monitor|dont-ask|no {monitor|length <arg>}|exec <rest>}
{reload|telnet|ssh|connect|dir|delete|more|erase|verify|send|test|archive|license|cd|mkdir} => other
{reload|telnet|ssh|connect|dir|delete|more|erase|verify|send|test|archive|license|cd|mkdir} <rest>
{setup|tclsh|disconnect|resume|where|pwd|squeeze|lock|systat} => other
clock set <rest>
clock => other
@nxos,eos {bash|run|install|attach|zone} => other
@nxos,eos {bash|run|install|attach|zone} <rest>
"""

_PIPE_COMMON = "include <rest>\nexclude <rest>\nbegin <rest>\nsection <rest>\ncount <rest>\n"
PIPES = {
    "ios": _PIPE_COMMON + "redirect <rest>\nappend <rest>\ntee <rest>\nformat <rest>\n",
    "nxos": _PIPE_COMMON
    + "egrep <rest>\ngrep <rest>\nhead <rest>\nlast <rest>\nless\nno-more\njson\njson-pretty\nxml\n"
    + "sed <rest>\nsort <rest>\ntr <rest>\nuniq <rest>\nwc <rest>\nvsh <rest>\n",
    "eos": _PIPE_COMMON
    + "json\nno-more\nnz\ngrep <rest>\nhead <rest>\ntail <rest>\nless\nmore\nredirect <rest>\n"
    + "append <rest>\ntee <rest>\nwc <rest>\nsort <rest>\nuniq <rest>\nwatch <rest>\n",
    "junos": "match <rest>\nexcept <rest>\ncount\ncompare <rest>\nfind <rest>\nhold\nlast <rest>\n"
    + "no-more\nresolve <rest>\nsave <rest>\ntrim <rest>\nrefresh <rest>\nrequest <rest>\n"
    + "display {set|xml|json|inheritance|detail|changed|omit|commit-scripts} <rest>\n",
}
