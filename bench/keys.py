#!/usr/bin/env python3
"""Creates N virtual keys through Sluice's admin API and writes their secrets,
one a line, to OUT (the load generator's --keys-file).

    bench/keys.py ADMIN_URL ADMIN_KEY N OUT

Keys are imported (POST /v1/keys with "key"), so the secrets are known
without parsing each answer; one keep-alive connection, sequential.
"""
import http.client
import json
import sys
import urllib.parse


def main() -> None:
    admin_url, admin_key, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    u = urllib.parse.urlparse(admin_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    headers = {"authorization": f"Bearer {admin_key}", "content-type": "application/json"}
    keys = []
    for i in range(n):
        secret = f"sk-bench-{i:08d}-0123456789abcdef"
        conn.request("POST", "/v1/keys", json.dumps({"name": f"bench-{i}", "key": secret}), headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status not in (200, 201):
            sys.exit(f"key {i}: {resp.status} {body[:200]!r}")
        keys.append(secret)
    with open(out, "w") as f:
        f.write("\n".join(keys) + "\n")


if __name__ == "__main__":
    main()
