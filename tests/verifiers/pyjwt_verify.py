"""Verifies tokens the way a Python service would: PyJWT's PyJWKClient
fetches latchkey's JWKS (fresh, no cache), picks the key by the token's kid,
and jwt.decode checks the signature with the algorithm the JWK names.

Usage: pyjwt_verify.py JWKS_URL TOKEN [TOKEN ...]
Prints one JSON object per token: {"ok": true, "claims": {...}} or
{"ok": false, "error": "..."}.
"""

import json
import sys

import jwt


def verify(jwks_url: str, token: str) -> dict:
    client = jwt.PyJWKClient(jwks_url, cache_jwk_set=False, cache_keys=False)
    try:
        signing_key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=[signing_key.algorithm_name],
            options={"require": ["exp", "iat", "jti"], "verify_aud": False},
        )
        return {"ok": True, "claims": claims}
    except jwt.PyJWTError as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}


def main() -> None:
    jwks_url, tokens = sys.argv[1], sys.argv[2:]
    for token in tokens:
        print(json.dumps(verify(jwks_url, token)))


if __name__ == "__main__":
    main()
