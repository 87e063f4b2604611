#!/usr/bin/env python3
"""Write the committed seed corpora, fuzz/corpus/<target>/, from the repository's
fixtures: tests/fixtures/jwt (tokens, JWKS), tests/fixtures/stamps/vectors.json
and conf/*.toml, plus a few hand-made edge cases per target.

Run from anywhere: python3 fuzz/seed_corpus.py. It replaces each target's
seed directory, so the result depends only on the fixtures. Files are named
by the SHA-1 of their content, as libFuzzer names the inputs it adds.
"""
import base64
import hashlib
import json
import pathlib
import shutil
import struct
import zlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "corpus"
JWT = ROOT / "tests" / "fixtures" / "jwt"
STAMPS = ROOT / "tests" / "fixtures" / "stamps"
MAX_PER_TARGET = 60

ALGS = ["HS256", "HS384", "HS512", "ES256", "ES384", "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512", "EdDSA"]
B62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def minted(prefix, body="A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5"):
    """An opaque key with a valid checksum (credential::mint's format)."""
    v = zlib.crc32((prefix + body).encode()) & 0xFFFFFFFF
    check = bytearray(b"0" * 6)
    for i in range(5, -1, -1):
        check[i] = B62[v % 62]
        v //= 62
    return prefix + body + check.decode()


def write(target, items):
    d = OUT / target
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    seen = set()
    for item in items:
        data = item.encode() if isinstance(item, str) else bytes(item)
        h = hashlib.sha1(data).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        (d / h).write_bytes(data)
        if len(seen) >= MAX_PER_TARGET:
            break
    print(f"{target}: {len(seen)} files")


def main():
    cases = json.loads((JWT / "cases.json").read_text())
    tokens = [c["token"] for c in cases]
    vectors = json.loads((STAMPS / "vectors.json").read_text())
    stamps = [v["stamp"] for v in vectors]
    keys = [minted("mantyx_"), minted("mantyx_at_"), minted("sk_test_"),
            "mantyx_rt_" + "x" * 36, "sk_live_abc", "pk_live_x"]

    extract = [
        f"authorization: Bearer {tokens[0]}",
        f"Authorization: bEaReR   {keys[0]}  ",
        f"authorization: ApiKey {keys[1]}",
        f"x-api-key: {keys[0]}",
        f"x-server-key: {keys[2]}",
        f"x-stamp: {stamps[0]}",
        f"authorization: Bearer {keys[0]}\nx-api-key: {keys[0]}",
        f"authorization: Bearer {keys[0]}\nx-server-key: {keys[0]}",
        f"authorization: Bearer {keys[0]}\nx-api-key: {keys[1]}",
        "authorization: Bearer k1\nauthorization: Bearer k2",
        "authorization: Basic dXNlcjpwYXNz",
        "authorization: Bearer ",
        "authorization: Bearer\ta\tb",
        "x-api-key: k\ty",
        "x-api-key:    ",
        "x-api-key: " + "a" * 4097,
        "content-type: application/json\nhost: example.com",
        "",
    ]
    write("credential_extract", extract)

    sniff = keys + tokens[:20] + [
        "eyJ", "eyJ..", "eyJhbGciOiJub25lIn0.e30.", "eyJ.a.b.c", "mantyx_",
        minted("mantyx_")[:-1] + "A", "ey", "",
    ]
    write("credential_sniff", sniff)

    write("jwt_verify", tokens + [
        "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci50ZXN0In0.",
        "a.b", "a.b.c.d", "...",
    ])

    payloads = []
    for t in tokens:
        try:
            payloads.append(b64d(t.split(".")[1]))
        except Exception:
            pass
    payloads += [
        b'{"iss":"https://issuer.test","exp":1.7e9,"aud":["x","authgate"]}',
        b'{"iss":["https://issuer.test"],"exp":1700000000,"nbf":null}',
        b'{"iss":"https://issuer.test","exp":{},"aud":5}',
        b'{"exp":1,"exp":2}',
        b'[]',
    ]
    write("jwt_claims", payloads)

    jwks = [(JWT / "jwks.json").read_bytes(), (JWT / "jwks_rotated.json").read_bytes()]
    jwks += [p.read_bytes() for p in sorted((JWT / "keys").glob("*.jwk.json"))]
    for doc in (json.loads(jwks[0]), json.loads(jwks[1])):
        for k in doc["keys"]:
            jwks.append(json.dumps({"keys": [k]}).encode())
            bare = {f: v for f, v in k.items() if f not in ("kid", "alg", "use")}
            jwks.append(json.dumps(bare).encode())
    # A JWK with repeated members (jsonwebtoken reads it as an unknown key type).
    ec = next(k for k in json.loads(jwks[0])["keys"] if k["kty"] == "EC")
    members = ",".join(f'"{f}":{json.dumps(v)}' for f, v in ec.items())
    jwks.append(('{"keys":[{' + members + ',"x":' + json.dumps(ec["x"]) + "}]}").encode())
    jwks += [b'{"keys":[]}', b'{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}',
             b'{"kty":"EC","crv":"P-256","x":"","y":""}']
    write("jwks", jwks)

    jws = []
    for c in cases:
        parts = c["token"].split(".")
        if len(parts) != 3:
            continue
        try:
            sig = b64d(parts[2])
        except Exception:
            continue
        msg = (parts[0] + "." + parts[1]).encode()
        alg = ALGS.index(c["alg"]) if c["alg"] in ALGS else 0
        jws.append(bytes([alg]) + struct.pack(">H", len(msg)) + msg + sig)
    write("jws_verify", jws)

    write("stamp_parse", [v["stamp"] + "\n" + v["body"] for v in vectors]
          + ["", "e30", "W10", "eyJ9"])

    ders = []
    for v in vectors:
        if "ED25519" in v["scheme"]:
            continue
        try:
            sig = json.loads(b64d(v["stamp"]))["signature"]
            ders.append(bytes.fromhex(sig))
        except Exception:
            pass
    ders += [bytes.fromhex("3006020101020101"), bytes.fromhex("3006020100020100"),
             bytes.fromhex("30"), b""]

    def der_int(content):
        return bytes([2, len(content)]) + content

    def der_seq(*ints):
        body = b"".join(ints)
        return bytes([0x30, len(body)]) + body

    # Sign bytes at several widths: one byte away from a redundant zero,
    # which only the fixed 32-byte width may carry.
    for width in (1, 2, 16, 31, 32):
        signed = b"\x00\x80" + b"\x11" * (width - 1)
        ders.append(der_seq(der_int(signed), der_int(b"\x01")))
        ders.append(der_seq(der_int(b"\x7f"), der_int(signed)))
    ders.append(der_seq(der_int(b"\x00" * 32), der_int(b"\x00\x01" + b"\x22" * 30)))
    write("stamp_der", ders)

    fresh = ["timestampMs\n" + v["body"] for v in vectors]
    fresh += [
        'a.b.ts\n{"a":{"b":{"ts":"5"}},"ts":"9"}',
        'timestampMs\n{"x":[1,{"timestampMs":"1"}],"timestampMs":"2"}',
        'timestampMs\n{"timestampMs":"1","timestampMs":"1"}',
        'timestampMs\n{"timestampMs":"99999999999999999999"}',
        'timestampMs\n{"timestampMs":1e12}',
        'timestampMs\n{"timestampMs":-1}',
        'timestampMs.\n{"timestampMs":"1"}',
        '{"timestampMs":1700000000000}',
    ]
    write("stamp_freshness", fresh)

    configs = [p.read_text() for p in sorted((ROOT / "conf").glob("*.toml"))]
    configs += [
        '[server]\nlisten = ["127.0.0.1:8080"]\n[upstreams.a]\nbackends = ["127.0.0.1:3000"]\n'
        '[[routes]]\npath = "/{*rest}"\nupstream = "a"\nauth = { public = true }\n',
        '[[routes]]\npath = "/x"\nupstream = "missing"\n',
        '[store]\nkeys_file = "nope.jsonl"\n',
        'unknown = 1\n',
        '[""]',  # an empty section name: its error once had an empty key path
    ]
    write("config", configs)

    rfc = json.loads((ROOT / "tests" / "fixtures" / "httpsig" / "rfc9421.json").read_text())
    head = "".join(f"{k}: {v}\n" for k, v in rfc["request"]["headers"])
    sigs = []
    for v in rfc["vectors"]:
        label = v["label"]
        sigs.append(f"{label}={v['signature_input']}\n{label}=:{v['signature']}:\n"
                    f"{head}\n{rfc['request']['body']}")
    sigs += [
        'sig1=("content-digest";sf "x";key="a" "y";bs);created=1\nsig1=:AAAA:\n'
        'x: a=1, b=(2 3)\ny: one\ny: two\ncontent-digest: sha-256=:AAAA:\n\nbody',
        'a=(), b=("@query-param";name="Pet")\na=:AA==:, b=:AA==:\n\n',
        'sig1=("@method" "@target-uri" "@request-target" "@scheme" "@status")\nsig1=:AAAA:\n\n',
    ]
    write("httpsig", sigs)

    wallet = json.loads((ROOT / "tests" / "fixtures" / "wallet" / "vectors.json").read_text())
    items = []
    for s in wallet["siwe"]:
        items.append(f"{s['signature']}\n{s['fields']['address']}\n{s['message']}")
    for p in wallet["personal"][:6]:
        items.append(f"{p['signature']}\n{wallet['wallets'][p['wallet']]['address'].lower()}\n{p['message']}")
    items += ["0x\n0x\n", "zz\n0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\nx wants you to sign in"]
    write("wallet", items)


if __name__ == "__main__":
    main()
