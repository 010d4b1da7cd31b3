"""The puzzle page a browser gets under attack, for a page load only (never under ``/api``).

The page loads edge's own small script, which solves the puzzle (``wire._pow``: one SHA-256
block per attempt), sets the solution as a cookie and reloads; the reload is admitted and its
address known for a few seconds, enough for the page's own requests.
"""

from __future__ import annotations

from html import escape
from typing import Final

from stockade.wire import POW_COOKIE, POW_DOMAIN, PowChallenge

POW_SCRIPT_PATH: Final = "/.well-known/stockade-pow.js"
#: The page's policy: edge's script and nothing else.
PAGE_CSP: Final = b"default-src 'none'; script-src 'self'; frame-ancestors 'none'"

_DOMAIN_WORDS = ",".join(
    f"0x{int.from_bytes(POW_DOMAIN[i : i + 4], 'big'):08x}" for i in range(0, 16, 4)
)

POW_SCRIPT: Final = (
    """// Stockade edge: solves the puzzle of the page that loaded it, then reloads.
(function () {
  "use strict";
  var K = new Uint32Array([  // SHA-256's round constants
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var H = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
           0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  var W = new Uint32Array(64);
  function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }
  // The first word of SHA-256 over one padded block: all that a puzzle of <= 32 bits needs.
  function firstWord(block) {
    var i, a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (i = 0; i < 16; i++) { W[i] = block[i]; }
    for (i = 16; i < 64; i++) {
      var x = W[i - 15], y = W[i - 2];
      W[i] = (W[i - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[i - 7] +
              (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10))) | 0;
    }
    for (i = 0; i < 64; i++) {
      var t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                K[i] + W[i]) | 0;
      var t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    return (H[0] + a) >>> 0;
  }
  function hex8(n) { return ("0000000" + n.toString(16)).slice(-8); }
  var script = document.currentScript;
  var seed = script.getAttribute("data-seed"), bits = Number(script.getAttribute("data-bits"));
  var block = new Uint32Array(16);
  block.set([DOMAIN]);
  for (var i = 0; i < 4; i++) { block[4 + i] = parseInt(seed.slice(8 * i, 8 * i + 8), 16); }
  block[10] = 0x80000000;  // the padding after 40 bytes, whose length in bits ends the block
  block[15] = 320;
  var limit = bits >= 32 ? 1 : Math.pow(2, 32 - bits), high = 0, low = 0;
  function run() {
    for (var n = 0; n < 50000; n++) {
      block[8] = high; block[9] = low;
      if (firstWord(block) < limit) {
        document.cookie = "COOKIE=" + seed + "." + hex8(high) + hex8(low) +
          "; Path=/; Max-Age=60; SameSite=Strict";
        location.reload();
        return;
      }
      low = (low + 1) >>> 0;
      if (low === 0) { high = (high + 1) >>> 0; }
    }
    setTimeout(run, 0);
  }
  run();
})();
""".replace("DOMAIN", _DOMAIN_WORDS)
    .replace("COOKIE", POW_COOKIE)
    .encode()
)


def challenge_page(challenge: PowChallenge) -> bytes:
    seed = escape(challenge.seed.hex())
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>One moment</title></head><body>\n"
        "<p>This exchange is under heavy load. Your browser is solving a small puzzle to get"
        " through; the page reloads by itself in a moment.</p>\n"
        "<noscript><p>This needs JavaScript. API clients never do: sign requests with an API"
        " key, or solve the Stockade-PoW-Challenge header.</p></noscript>\n"
        f'<script src="{POW_SCRIPT_PATH}" data-seed="{seed}" data-bits="{challenge.bits}">'
        "</script>\n</body></html>\n"
    ).encode()
