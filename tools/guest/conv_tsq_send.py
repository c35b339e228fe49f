#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Send MIB mebibytes of deterministic pseudo-random data to HOST:PORT
over one TCP connection, hashing them while sending; then shut down the
write side and read the peer's answer, "SHA256HEX BYTES\\n" (see
tools/wqbh/conv.py, tsq_peer).  Prints
    sent BYTES ELAPSED_MS SHA256HEX
    peer SHA256HEX BYTES
and exits 0 when the peer received exactly what was sent.

The data: MIB slices of one MiB taken at varying offsets from a seeded
random block, so that no two consecutive MiB are equal and both ends
can be checked against tools/wqbh/conv.py's tsq_data()."""

import hashlib
import random
import socket
import sys
import time

MIB = 1 << 20
SEED = 20261126


def chunks(mib):
	"""The MiB blocks of the stream (memoryviews of one random block)."""
	base = memoryview(random.Random(SEED).randbytes(MIB + 4096))
	for i in range(mib):
		off = (i * 997) % 4096
		yield base[off:off + MIB]


def main(argv):
	host, port, mib = argv[1], int(argv[2]), int(argv[3])
	h = hashlib.sha256()
	sent = 0
	s = socket.create_connection((host, port), timeout=30)
	s.settimeout(60)
	start = time.monotonic()
	for c in chunks(mib):
		h.update(c)
		s.sendall(c)
		sent += len(c)
	s.shutdown(socket.SHUT_WR)
	answer = b''
	while not answer.endswith(b'\n') and len(answer) < 200:
		data = s.recv(200)
		if not data:
			break
		answer += data
	ms = int((time.monotonic() - start) * 1000)
	s.close()
	print(f'sent {sent} {ms} {h.hexdigest()}')
	words = answer.decode(errors='replace').split()
	if len(words) != 2:
		print(f'peer answered {answer!r}')
		return 1
	print(f'peer {words[0]} {words[1]}')
	return 0 if words == [h.hexdigest(), str(sent)] else 1


if __name__ == '__main__':
	sys.exit(main(sys.argv))
