"""Which 32-byte strings are accepted as Ed25519 public keys, and which signatures.

RFC 8032 verification, as OpenSSL implements it, accepts public keys of small order: for
the identity point (encoded ``01 00 … 00``) the signature ``R = identity, S = 0`` verifies
for *every* message, so an address like that can be spent by anyone. Strict verification
(the rules libsodium applies) closes that door:

* a public key must be the canonical encoding (``y < p``; no "negative zero" ``x``) of a
  point on the curve that is not of small order (``[8]A`` is not the identity);
* a signature's ``R`` must not be the encoding of a small-order point (canonical or not),
  and its ``S`` must be reduced (``S < L``).

The point arithmetic below is plain integer arithmetic on edwards25519 in extended
coordinates; it only *classifies* keys and never signs, so it does not need to run in
constant time. Decoding costs two modular exponentiations; :func:`is_valid_public_key`
caches its answers, so a sender's key is checked once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

P: Final = 2**255 - 19
#: Order of the prime subgroup (the base point's order).
L: Final = 2**252 + 27742317777372353535851937790883648493
D: Final = -121665 * pow(121666, -1, P) % P
SQRT_M1: Final = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z
IDENTITY: Final[Point] = (0, 1, 1, 0)


def _add(p: Point, q: Point) -> Point:
    """Complete twisted-Edwards addition (a = -1), valid for every pair of points."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * D * t1 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _is_identity(p: Point) -> bool:
    x, y, z, _ = p
    return x % P == 0 and (y - z) % P == 0


def _times_eight(p: Point) -> Point:
    for _ in range(3):
        p = _add(p, p)
    return p


def _decode(raw: bytes) -> Point | None:
    """The point a 32-byte encoding names, or None when it is off the curve or not canonical."""
    if len(raw) != 32:
        return None
    n = int.from_bytes(raw, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x2 = u * pow(v, -1, P) % P
    if x2 == 0:
        if sign:
            return None  # "negative zero": a second encoding of (0, ±1)
        return (0, y, 1, 0)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
        if (x * x - x2) % P:
            return None  # y does not lie on the curve
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def _encode(p: Point) -> int:
    x, y, z, _ = p
    zi = pow(z, -1, P)
    x, y = x * zi % P, y * zi % P
    return y | (x & 1) << 255


def _torsion_points() -> list[Point]:
    """The eight points of order dividing 8, found as [L]Q for a point Q with a torsion part."""
    y = 2
    while True:
        q = _decode(y.to_bytes(32, "little"))
        if q is not None:
            t = IDENTITY
            for bit in bin(L)[2:]:  # [L]q by double-and-add: kills q's prime-order part
                t = _add(t, t)
                if bit == "1":
                    t = _add(t, q)
            if not _is_identity(_add(_add(t, t), _add(t, t))):  # [4]t != O: t has order 8
                points, acc = [], IDENTITY
                for _ in range(8):
                    points.append(acc)
                    acc = _add(acc, t)
                return points
        y += 1


def _small_order_encodings() -> frozenset[bytes]:
    """Every 32-byte string that decodes, canonically or not, to a small-order point."""
    out: set[bytes] = set()
    for point in _torsion_points():
        enc = _encode(point)
        y, sign = enc & ((1 << 255) - 1), enc >> 255
        signs = (0, 1) if point[0] % P == 0 else (sign,)
        for yy in (y, y + P):
            if yy < 1 << 255:
                out.update((yy | s << 255).to_bytes(32, "little") for s in signs)
    return frozenset(out)


SMALL_ORDER_ENCODINGS: Final = _small_order_encodings()


@lru_cache(maxsize=1 << 16)
def is_valid_public_key(raw: bytes) -> bool:
    """A canonical encoding of a curve point that is not of small order."""
    point = _decode(raw)
    return point is not None and not _is_identity(_times_eight(point))


def is_strict_signature(raw: bytes) -> bool:
    """A 64-byte signature whose R is not a small-order point and whose S is reduced."""
    return len(raw) == 64 and raw[:32] not in SMALL_ORDER_ENCODINGS and int.from_bytes(raw[32:], "little") < L
