import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { nftListeners, nftListenersEverywhere, parseProcNetlink } from '../../../src/lib/nft/netlink/netlink-listeners.js';

const HEADER = 'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode';
const row = (eth: number, pid: number, groups: string): string => `000000004c6498cf ${String(eth).padEnd(3)} ${String(pid).padEnd(10)} ${groups} 0        0        0     2        0        4       `;

test('/proc/net/netlink: nf_tables listeners are NETLINK_NETFILTER sockets with group 7 (bit 0x40), our own portid left out', () => {
  const cases: { name: string; lines: string[]; exclude?: number; want: number[] }[] = [
    { name: 'nobody', lines: [row(0, 0, '00000000'), row(12, 0, '00000000'), row(12, 3001, '00000000')], want: [] },
    { name: 'an nft monitor (groups 1-7 as nft joins them)', lines: [row(12, 0, '00000000'), row(12, 4242, '0000007f')], want: [4242] },
    { name: 'only group 7', lines: [row(12, 77, '00000040')], want: [77] },
    { name: 'our own subscription is excluded', lines: [row(12, 77, '00000040'), row(12, 78, '00000040')], exclude: 77, want: [78] },
    { name: 'only ours', lines: [row(12, 77, '00000040')], exclude: 77, want: [] },
    { name: 'other netfilter groups (conntrack events, 1-3) do not count', lines: [row(12, 9, '00000007'), row(12, 10, '00000080')], want: [] },
    { name: 'group 7 on another protocol (rtnetlink RTNLGRP_IPV4_IFADDR… ) does not count', lines: [row(0, 500, '000000ff'), row(16, 501, '00000040')], want: [] },
    { name: 'upper-case hex', lines: [row(12, 5, 'FFFFFFFF')], want: [5] },
    { name: 'portids above 2^31 (negative in a signed print)', lines: [row(12, 4294967295, '00000040')], want: [4294967295] },
    { name: 'no sockets at all', lines: [], want: [] },
  ];
  for (const c of cases) {
    const rows = parseProcNetlink([HEADER, ...c.lines, ''].join('\n'));
    assert.equal(rows.length, c.lines.length, c.name);
    assert.deepEqual(nftListeners(rows, c.exclude), c.want, c.name);
  }
});

test('/proc/net/netlink: what cannot be read is an error, never "nobody listens"', () => {
  const bad: [string, string, RegExp][] = [
    ['empty', '', /no Eth column/],
    ['a header without Groups', 'sk Eth Pid Rmem\n0 12 5 0\n', /no Groups column/],
    ['a non-hex bitmask', `${HEADER}\n${row(12, 5, 'zz')}\n`, /cannot parse/],
    ['a truncated line', `${HEADER}\n000000004c6498cf 12\n`, /cannot parse/],
    ['a bitmask wider than 32 bits', `${HEADER}\n${row(12, 5, '1ffffffff')}\n`, /cannot parse/],
  ];
  for (const [name, text, re] of bad) assert.throws(() => parseProcNetlink(text), re, name);
});

test('a /run/netns entry that is not (yet) a namespace — `ip netns add` mid-way — is skipped, not an error', { skip: process.getuid?.() !== 0 ? 'needs root (/run/netns, setns)' : false }, () => {
  mkdirSync('/run/netns', { recursive: true });
  const path = `/run/netns/us-q-${process.pid}`;
  writeFileSync(path, ''); // what ip netns add creates before it bind-mounts the namespace on it
  try {
    const all = nftListenersEverywhere();
    assert.ok(all.every((l) => typeof l.ns === 'bigint' && Number.isInteger(l.portid)));
  } finally {
    rmSync(path, { force: true });
  }
});
