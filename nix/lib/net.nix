# Address helpers for the router module: MAC/IPv4/IPv6 validation and prefix arithmetic.
# builtins only (no nixpkgs), so CI can evaluate it with a bare `nix-instantiate`.
# Every validator returns `null` when the value is fine, or a message saying what is wrong; the
# router module turns messages into assertions.
let
  inherit (builtins)
    all bitAnd concatStringsSep elemAt filter genList head isString length match
    replaceStrings split stringLength substring toString;

  hexDigits = {
    "0" = 0; "1" = 1; "2" = 2; "3" = 3; "4" = 4; "5" = 5; "6" = 6; "7" = 7; "8" = 8; "9" = 9;
    a = 10; b = 11; c = 12; d = 13; e = 14; f = 15;
  };
  lower = s: replaceStrings [ "A" "B" "C" "D" "E" "F" ] [ "a" "b" "c" "d" "e" "f" ] s;
  parseHex = s: builtins.foldl' (acc: c: acc * 16 + hexDigits.${c}) 0
    (genList (i: substring i 1 (lower s)) (stringLength s));
  pow2 = n: if n == 0 then 1 else 2 * pow2 (n - 1);
  # Strings split on a literal separator (builtins.split takes a regex; the ones used here are plain).
  splitOn = sep: s: filter isString (split sep s);
  # Part i (of `width` bits: an octet or a hextet) of the netmask of a /prefixLength.
  maskPart = width: prefixLength: i:
    let bits = prefixLength - width * i;
    in if bits >= width then pow2 width - 1 else if bits <= 0 then 0 else pow2 width - pow2 (width - bits);
  hexChars = [ "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "a" "b" "c" "d" "e" "f" ];
  toHex = n: if n < 16 then elemAt hexChars n else toHex (n / 16) + elemAt hexChars (n - 16 * (n / 16));
  hex2 = n: let h = toHex n; in if n < 16 then "0" + h else h;
  isDecimal = s: match "(0|[1-9][0-9]{0,2})" s != null;
  toInt = s: builtins.fromJSON s;
in
rec {
  # ---- MAC addresses -------------------------------------------------------------------------
  # The write-up lost an evening to `RTNETLINK answers: Cannot assign requested address`: the
  # override it chose (11:22:33:44:55:66) has the I/G bit (least significant bit of the first
  # octet) set, i.e. it is a multicast address, which no NIC accepts as its own (IEEE 802-2014
  # §8.2). Say so at evaluation time instead.
  macProblem = what: mac:
    if !(isString mac) || match "([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}" mac == null then
      "${what}: \"${toString mac}\" is not a MAC address (expected six colon-separated hex octets, e.g. 02:11:22:33:44:55)"
    else if bitAnd (parseHex (substring 0 2 mac)) 1 == 1 then
      "${what}: ${mac} is a multicast MAC address (the least significant bit of the first octet, 0x${substring 0 2 mac}, is set); "
      + "the kernel refuses it as an interface address with \"Cannot assign requested address\". "
      + "Clear that bit (${hex2 (parseHex (substring 0 2 mac) - 1)}:${substring 3 14 mac}), or use a locally administered address (first octet 02, 06, 0a, …)"
    else if lower mac == "00:00:00:00:00:00" then
      "${what}: 00:00:00:00:00:00 is not a usable interface address"
    else null;

  # ---- IPv4 ----------------------------------------------------------------------------------
  parseIPv4 = s:
    let parts = if isString s then splitOn "\\." s else [ ];
    in if length parts == 4 && all isDecimal parts && all (p: toInt p < 256) parts
       then map toInt parts else null;

  ipv4Problem = what: addr: prefixLength:
    if parseIPv4 addr == null then "${what}: \"${toString addr}\" is not an IPv4 address"
    else if prefixLength < 8 || prefixLength > 30 then "${what}: prefix length /${toString prefixLength} is outside 8..30"
    else null;

  # "10.77.0.1", 24 -> "10.77.0.0/24" (nft wants the network, not a host address with a mask).
  ipv4Network = addr: prefixLength:
    let
      octets = parseIPv4 addr;
    in concatStringsSep "." (genList (i: toString (bitAnd (elemAt octets i) (maskPart 8 prefixLength i))) 4)
       + "/${toString prefixLength}";

  # The in-addr.arpa zone that holds the PTRs of a LAN prefix, for the sidecar's `dns.zones`.
  # Only whole octets make a zone; /20 would need RFC 2317 delegation, so it rounds down to /16.
  ipv4ReverseZone = addr: prefixLength:
    let
      octets = parseIPv4 addr;
      n = prefixLength / 8;
      kept = genList (i: toString (elemAt octets (n - 1 - i))) n;
    in concatStringsSep "." kept + ".in-addr.arpa.";

  # ---- IPv6 ----------------------------------------------------------------------------------
  # Eight 16-bit integers, or null. Accepts the usual "::" compression; no embedded IPv4.
  parseIPv6 = s:
    let
      isHextet = h: match "[0-9a-fA-F]{1,4}" h != null;
      halves = if isString s then splitOn "::" s else [ ];
      groups = str: if str == "" then [ ] else splitOn ":" str;
      full =
        if length halves == 1 then groups (head halves)
        else if length halves == 2 then
          let l = groups (head halves); r = groups (elemAt halves 1);
          in if length l + length r > 7 then [ ] else l ++ genList (_: "0") (8 - length l - length r) ++ r
        else [ ];
    in if length full == 8 && all isHextet full then map parseHex full else null;

  # RFC 4193 §3.1: a ULA prefix is fd00::/8 + a 40-bit *random* global ID + a 16-bit subnet ID.
  # fc00::/8 (L=0) is reserved; anything else is not a ULA at all.
  ulaProblem = what: addr: prefixLength:
    let h = parseIPv6 addr;
    in
    if h == null then "${what}: \"${toString addr}\" is not an IPv6 address"
    else if bitAnd (head h) 65280 != 64768 then
      "${what}: ${addr} is not an RFC 4193 unique local address: it must start with fd (fd00::/8 with a random 40-bit global ID, e.g. fd12:3456:789a::1)"
    else if prefixLength < 48 || prefixLength > 64 then
      "${what}: prefix length /${toString prefixLength} is outside 48..64 (a ULA site is a /48; a LAN is one /64 of it)"
    else null;

  # A zero global ID (fd00::/48) is legal syntax but not what RFC 4193 §3.2 asks for: a warning.
  ulaGlobalIdIsZero = addr:
    let h = parseIPv6 addr;
    in h != null && bitAnd (head h) 255 == 0 && elemAt h 1 == 0 && elemAt h 2 == 0;

  ipv6Network = addr: prefixLength:
    let
      h = parseIPv6 addr;
    in concatStringsSep ":" (genList (i: toHex (bitAnd (elemAt h i) (maskPart 16 prefixLength i))) 8)
       + "/${toString prefixLength}";

  # Do two IPv4 prefixes share any address? (The shorter prefix's mask decides.)
  ipv4Overlap = a: aLen: b: bLen:
    let
      len = if aLen < bLen then aLen else bLen;
      net = addr: ipv4Network addr len;
    in parseIPv4 a != null && parseIPv4 b != null && net a == net b;

  # "fd01:2345:6789:0:…" -> "fd01:2345:6789:0": the first four hextets, i.e. the /64 an address is in.
  ipv6Head64 = addr: concatStringsSep ":" (genList (i: toHex (elemAt (parseIPv6 addr) i)) 4);

  # ---- the WAN-namespace transit link --------------------------------------------------------
  # With the WAN in its own namespace (router wan.namespace), the main namespace reaches it over a
  # veth pair and both sides NAT (the write-up's double NAT). The link needs addresses that no LAN
  # host has: IPv4 from the shared address space (RFC 6598), IPv6 a /64 of the LAN's ULA site (its
  # /48) that lies outside the LAN prefix, so that no second prefix has to be invented.
  transit4 = { network = "100.64.255.0"; prefixLength = 30; main = "100.64.255.1"; ns = "100.64.255.2"; };

  # The transit /64 as its first four hextets ("fd01:2345:6789:ffff"): subnet ffff of the site, or
  # subnet 0 when the LAN prefix holds ffff. null when the LAN holds both, i.e. it is the whole /48
  # (a /49..64 LAN holds at most half the site, and ffff and 0 lie in different halves).
  transit6Subnet = addr: prefixLength:
    let
      h = parseIPv6 addr;
      bits = prefixLength - 48;
      mask = if bits >= 16 then 65535 else if bits <= 0 then 0 else 65536 - pow2 (16 - bits);
      inLan = subnet: bitAnd subnet mask == bitAnd (elemAt h 3) mask;
      site = concatStringsSep ":" (genList (i: toHex (elemAt h i)) 3);
      free = filter (subnet: !(inLan subnet)) [ 65535 0 ];
    in
    if h == null || prefixLength < 48 || prefixLength > 64 then null
    else if free == [ ] then null
    else "${site}:${toHex (head free)}";

  # null, or why the transit link cannot be addressed next to this LAN.
  #   ipv4 = { address; prefixLength; }   ipv6 = null | { address; prefixLength; }
  transitProblem = what: { ipv4, ipv6 }:
    if ipv6 == null then
      "${what}: the WAN namespace's transit link takes its IPv6 /64 from the LAN's ULA site (lan.ipv6), which is unset"
    else if ulaProblem "" ipv6.address ipv6.prefixLength != null then
      null # lan.ipv6 itself is reported
    else if transit6Subnet ipv6.address ipv6.prefixLength == null then
      "${what}: lan.ipv6 ${ipv6.address}/${toString ipv6.prefixLength} is the whole ULA site (/48), so there is no /64 left in it "
      + "for the link between the main and the WAN namespace (the router would route the LAN's own subnet ffff to that link). "
      + "Give the LAN a longer prefix, e.g. ${ipv6Head64 ipv6.address}::/64 (a LAN is one /64; radvd and SLAAC use /64s)"
    else if ipv4Problem "" ipv4.address ipv4.prefixLength == null
      && ipv4Overlap ipv4.address ipv4.prefixLength transit4.network transit4.prefixLength then
      "${what}: lan.ipv4 ${ipv4Network ipv4.address ipv4.prefixLength} overlaps ${transit4.network}/${toString transit4.prefixLength}, "
      + "the link between the main and the WAN namespace; use another LAN range (e.g. 10.77.0.0/24)"
    else null;

  # ---- names ---------------------------------------------------------------------------------
  # Linux interface names: 1..15 bytes, no '/', ':' or whitespace (IFNAMSIZ = 16 with the NUL).
  ifnameProblem = what: name:
    if isString name && match "[A-Za-z0-9_.-]{1,15}" name != null then null
    else "${what}: \"${toString name}\" is not a valid interface name (1-15 characters of A-Z a-z 0-9 _ . -)";
}
