'use strict';
// HS256 JSON Web Tokens for the signed-identity tests (node:crypto; no JWT package).

const crypto = require('node:crypto');

/** The secret the tests start signed servers with (WS_JWT_SECRET). */
const SECRET = 'interop-secret-interop-secret-interop!';
const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** A JWT of `claims`, signed with `secret` (`alg` none: no signature). */
function jwt(claims, { secret = SECRET, alg = 'HS256' } = {}) {
  const signing = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const sig = alg === 'HS256' ? crypto.createHmac('sha256', secret).update(signing).digest() : Buffer.alloc(0);
  return `${signing}.${b64url(sig)}`;
}

const now = () => Math.floor(Date.now() / 1000);

/** A token for `sub`, valid for ten minutes. */
const tokenFor = (sub, extra = {}) => jwt({ sub, exp: now() + 600, ...extra });

module.exports = { SECRET, jwt, now, tokenFor };
